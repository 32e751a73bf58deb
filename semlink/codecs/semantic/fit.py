"""``semlink train codec``: data preparation, the Lightning run, validation and the checkpoint."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from semlink.codecs.semantic.checkpoint import CodecCheckpointError, load_codec, replace_map_model, save_codec
from semlink.codecs.semantic.map_coder import fit_map_model
from semlink.codecs.semantic.net import GRID, CodecNetConfig, SemanticCodecNet, onehot_map
from semlink.codecs.semantic.quantizer import usage
from semlink.codecs.semantic.train import CodecModule, LossWeights
from semlink.data.frame import FrameSource
from semlink.data.labelset import LabelSet
from semlink.training import EvalSets, ProgressPrinter, class_weights, leg_peak_lr, load_all, write_record
from semlink.vision.augment import CropStream
from semlink.vision.checkpoint import load_resume, save_resume
from semlink.vision.metrics import ConfusionMeter
from semlink.vision.segmenter import TorchSegmenter

if TYPE_CHECKING:
    from semlink.tracking import TensorBoardTracker

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodecTrainSettings:
    """What ``semlink train codec`` was asked for.

    :param max_minutes: training time budget (the schedule ends at it).
    :param steps: step limit.
    :param crop: ``(h, w)`` of the training crops (multiples of 16).
    :param batch: crops per step.
    :param lr: peak learning rate.
    :param seed: the run's seed.
    :param threads: torch CPU threads.
    :param val_frames: validation frames scored at the end.
    :param task_weight: weight of the task loss (the frozen segmenter's cross-entropy on the
        reconstruction against the map: what ``map_consistency`` measures); may change per leg.
    """

    max_minutes: float
    steps: int = 100_000
    crop: tuple[int, int] = (128, 192)
    batch: int = 8
    lr: float = 2e-3
    seed: int = 0
    threads: int = 2
    val_frames: int = 30
    task_weight: float = 1.0

    def to_dict(self) -> dict[str, object]:
        """Plain values (for the resume state)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CodecTrainSettings:
        """The settings stored by :meth:`to_dict`."""
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return cls(**values)


OPERATING_POINTS: dict[str, tuple[float, bool, bool]] = {
    "map only (ssm)": (0.0, True, False),
    "map + 10% tokens": (0.1, True, False),
    "map + 30% tokens": (0.3, True, False),
    "map + 100% tokens": (1.0, True, False),
    "map + low-res x8 (spic)": (0.0, True, True),
    "all tokens, no map (gan)": (1.0, False, False),
}
"""Validation settings: (kept token fraction, map sent, low-res ×8 sent), decoded in-network."""


def pad16(images: torch.Tensor) -> torch.Tensor:
    """Replicate-pad ``[N, C, H, W]`` at the bottom and right to multiples of 16."""
    h, w = images.shape[-2:]
    return torch.nn.functional.pad(images, (0, -w % GRID, 0, -h % GRID), mode="replicate")


@torch.inference_mode()
def reconstruct(
    net: SemanticCodecNet, images: torch.Tensor, maps: torch.Tensor, ratio: float, with_map: bool, with_lowres: bool
) -> torch.Tensor:
    """In-network round trip of ``images [N, 3, H, W]`` (no entropy coding): what the operating
    point's streams give when all of them arrive."""
    h, w = images.shape[-2:]
    x = pad16(images)
    m = pad16(maps[:, None].float())[:, 0].long()
    c = net.config.num_classes
    onehot = onehot_map(m, c)
    latent = net.encoder(x)
    indices = net.quantizer.indices(latent)
    scores = net.scorer(latent, onehot).flatten(1)
    k = round(ratio * scores.shape[1])
    keep = torch.zeros_like(scores, dtype=torch.bool)
    if k:
        keep.scatter_(1, scores.topk(k, dim=1).indices, True)
    received = onehot if with_map else onehot_map(torch.full_like(m, c), c)
    lowres = None
    if with_lowres:
        small = (torch.nn.functional.avg_pool2d(x, 8) * 255).round() / 255
        lowres = torch.nn.functional.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
    out = net.decode(indices, keep.view_as(indices), received, lowres)
    return out[..., :h, :w]


def validate(
    net: SemanticCodecNet, segmenter: TorchSegmenter, images: np.ndarray, labels: np.ndarray, label_set: LabelSet
) -> dict[str, float]:
    """Scores of each operating point's reconstruction of ``images [N, H, W, 3]``: ``mIoU`` of the
    segmenter against the ground truth ``labels``, ``consistency`` (mIoU of the segmenter's view
    against the sent map) and ``PSNR`` (dB, over all frames); then the codebook's use on the frames
    (:func:`~semlink.codecs.semantic.quantizer.usage`), each name led by ``codebook``."""
    maps = segmenter.segment(images)
    scores = {"mIoU, clean image": _miou(segmenter, images, labels, label_set)}
    for name, (ratio, with_map, with_lowres) in OPERATING_POINTS.items():
        recon = []
        for start in range(0, len(images), 4):
            x = torch.from_numpy(images[start : start + 4]).permute(0, 3, 1, 2).float() / 255
            m = torch.from_numpy(maps[start : start + 4]).long()
            out = reconstruct(net, x, m, ratio, with_map, with_lowres)
            recon.append((out * 255).round().byte().permute(0, 2, 3, 1).numpy())
        decoded = np.concatenate(recon)
        seen = segmenter.segment(decoded)
        scores[f"mIoU, {name}"] = _miou_of(seen, labels, label_set)
        scores[f"consistency, {name}"] = _miou_of(seen, maps, label_set)
        scores[f"PSNR, {name}"] = psnr_db(decoded, images)
    scores.update({f"codebook {k}": v for k, v in codebook_usage(net, images).items()})
    return scores


def psnr_db(decoded: np.ndarray, images: np.ndarray) -> float:
    """PSNR in dB of uint8 ``decoded`` against ``images`` (same shape), over all their pixels."""
    mse = float(np.mean((decoded.astype(np.float64) - images.astype(np.float64)) ** 2))
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


@torch.inference_mode()
def codebook_usage(net: SemanticCodecNet, images: np.ndarray) -> dict[str, float]:
    """:func:`~semlink.codecs.semantic.quantizer.usage` of the token indices of ``images [N, H, W, 3]``."""
    indices = []
    for start in range(0, len(images), 4):
        x = torch.from_numpy(images[start : start + 4]).permute(0, 3, 1, 2).float() / 255
        indices.append(net.quantizer.indices(net.encoder(pad16(x))).flatten())
    return usage(torch.cat(indices), net.quantizer.prior())


def _miou_of(predicted: np.ndarray, labels: np.ndarray, label_set: LabelSet) -> float:
    meter = ConfusionMeter(label_set)
    meter.update(torch.from_numpy(predicted), labels)
    return meter.scores().miou


def _miou(segmenter: TorchSegmenter, images: np.ndarray, labels: np.ndarray, label_set: LabelSet) -> float:
    return _miou_of(segmenter.segment(images), labels, label_set)


def train_codec(
    train: FrameSource,
    sets: EvalSets,
    segmenter: TorchSegmenter,
    settings: CodecTrainSettings,
    out: Path,
    command: str,
    resume: Path | None = None,
    data: dict[str, object] | None = None,
    tracker: TensorBoardTracker | None = None,
    init: Path | None = None,
) -> dict[str, float]:
    """Train one leg on ``train`` with maps from ``segmenter`` (a new run, or continuing the run
    of ``resume``; a new run starts from the network of the codec checkpoint ``init`` if given);
    score the first ``val_frames`` held-out and val frames; write ``out``, its
    ``.txt`` record (every leg) and its ``.resume`` state (float32 weights, discriminator,
    optimizers, data order). The checkpoint is the leg's last network; the held-out scores
    are recorded beside the val ones for choosing between legs. With ``tracker``, losses, scores and
    sample reconstructions also go to TensorBoard.

    :return: the leg's val scores.
    """
    torch.set_num_threads(settings.threads)
    started = time.time()
    state = load_resume(resume, "codec") if resume is not None else None
    legs: list[dict[str, Any]] = list(state["legs"]) if state else []
    offset = int(state["step"]) if state else 0
    label_set = train.label_set
    LOG.info("loading %d training frames and segmenting them", len(train))
    images, _ = load_all(train)
    maps = segmenter.segment(images)
    map_model = fit_map_model(maps, label_set.num_classes, scales=(1, 2, 4))
    lr = leg_peak_lr(settings.lr, len(legs) + 1)
    init_seed, stream_seed, draw_seed = (int(s) for s in np.random.SeedSequence(settings.seed).generate_state(3))
    with torch.random.fork_rng():
        torch.manual_seed(init_seed)
        module = CodecModule(
            CodecNetConfig(label_set.num_classes),
            segmenter.module,
            class_weights(maps, label_set),
            lr,
            settings.steps,
            settings.max_minutes,
            weights=LossWeights(task=settings.task_weight),
            seed=draw_seed,
            offset=offset,
            gan_started=bool(state["gan_started"]) if state else False,
            optimizer_states=list(state["optimizers"]) if state else None,
        )
    stream = CropStream(images, maps, settings.crop, scale=(0.8, 1.25), seed=stream_seed)
    if init is not None:
        module.net.load_state_dict(init_weights(init, module.net.config, label_set))
    if state:
        module.net.load_state_dict(state["net"])
        module.disc.load_state_dict(state["disc"])
        module.generator_rng.set_state(state["draws"])
        stream.restore(state["stream"])
    trainer = L.Trainer(
        max_time=timedelta(minutes=settings.max_minutes + 1),
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[
            ProgressPrinter(
                batch=settings.batch, offset=offset, steps=settings.steps, max_minutes=settings.max_minutes
            ),
            *([tracker] if tracker else []),
        ],
    )
    trainer.fit(module, train_dataloaders=DataLoader(stream, batch_size=settings.batch, num_workers=0))
    net = module.net.float().cpu().eval()
    held = validate(net, segmenter, *load_all(sets.holdout, settings.val_frames), label_set)
    scores = validate(net, segmenter, *load_all(sets.val, settings.val_frames), label_set)
    legs.append(
        {
            "command": command,
            "seed": settings.seed,
            "minutes": round((time.time() - started) / 60.0, 1),
            "steps": module.steps_done,
            "notes": leg_notes(module, offset, lr, settings, init),
            "scores": {**prefixed("held-out", held), **prefixed("val", scores)},
        }
    )
    meta: dict[str, object] = {"command": command, "seed": settings.seed, "steps": module.steps_done, "legs": legs}
    save_codec(out, net, label_set, map_model, meta)
    save_resume(
        out,
        "codec",
        {
            "net": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
            "disc": {k: v.detach().cpu().clone() for k, v in module.disc.state_dict().items()},
            "optimizers": [o.state_dict() for o in trainer.optimizers],
            "draws": module.generator_rng.get_state(),
            "stream": stream.state(),
            "step": module.steps_done,
            "gan_started": module.gan_started,
            "settings": settings.to_dict(),
            "data": data or {},
            "legs": legs,
        },
    )
    header = [
        f"semlink semantic codec checkpoint: {len(legs)} leg(s), {module.steps_done} steps; every leg below",
        f"data: {sets.note}; scored on the first {settings.val_frames} held-out and val frames "
        "(in-network decode, every stream arriving; mIoU against the ground truth, consistency: mIoU "
        "against the sent map, PSNR in dB; codebook use of the frames' tokens)",
        f"settings (latest leg): {settings}",
        f"checkpoint size: {out.stat().st_size / 1e6:.2f} MB; resume state: {out.with_suffix('.resume').name} "
        "beside it (not shipped)",
    ]
    write_record(out.with_suffix(".txt"), header, legs)
    if tracker is not None:
        named = {**prefixed("held-out", held), **prefixed("val", scores)}
        track_leg(tracker, net, segmenter, sets.val, settings, named, module.steps_done)
    return scores


def prefixed(prefix: str, scores: dict[str, float]) -> dict[str, float]:
    """``scores`` with each name led by ``prefix`` (held-out and val apart in one plot)."""
    return {f"{prefix} {name}": value for name, value in scores.items()}


def leg_notes(
    module: CodecModule, offset: int, lr: float, settings: CodecTrainSettings, init: Path | None
) -> dict[str, str]:
    """The record's notes of a leg: its steps, learning rate and threads, and where it started."""
    notes = {"leg": f"{module.steps_done - offset} steps, peak lr {lr:.2e}, {settings.threads} CPU threads"}
    if init is not None:
        notes["init"] = f"network initialised from {init}"
    return notes


def init_weights(path: Path, config: CodecNetConfig, label_set: LabelSet) -> dict[str, torch.Tensor]:
    """The network weights of the codec checkpoint ``path``, checked to fit a new run's ``config``.

    :raises CodecCheckpointError: if it is for another label set or network shape (one line, the fix).
    """
    net, its_labels, _ = load_codec(path)
    if its_labels.name != label_set.name:
        raise CodecCheckpointError(
            f"--init {path} is for {its_labels.name} frames, --data gives {label_set.name}; "
            f"pass a {label_set.name} codec"
        )
    if net.config != config:
        raise CodecCheckpointError(f"--init {path} has another network shape ({net.config}); pass one of {config}")
    return net.state_dict()


SAMPLE_POINTS = ("map only (ssm)", "map + 30% tokens", "all tokens, no map (gan)")
"""Operating points shown beside the original in TensorBoard's sample reconstructions."""


def track_leg(
    tracker: TensorBoardTracker,
    net: SemanticCodecNet,
    segmenter: TorchSegmenter,
    val: FrameSource,
    settings: CodecTrainSettings,
    scores: dict[str, float],
    step: int,
) -> None:
    """The leg's settings, scores and three val frames (original | ssm | map + 30 % tokens | gan)."""
    from semlink.tracking import side_by_side

    images, _ = load_all(val, 3)
    maps = torch.from_numpy(segmenter.segment(images)).long()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    columns = [images]
    for name in SAMPLE_POINTS:
        ratio, with_map, with_lowres = OPERATING_POINTS[name]
        out = reconstruct(net, x, maps, ratio, with_map, with_lowres)
        columns.append((out * 255).round().byte().permute(0, 2, 3, 1).numpy())
    tracker.log_leg(
        settings.to_dict(), scores, "val/original | " + " | ".join(SAMPLE_POINTS), side_by_side(*columns), step
    )


def refit_map_model(train: FrameSource, segmenter: TorchSegmenter, checkpoint: Path, command: str) -> np.ndarray:
    """Fit the map coder's context model on the segmenter's maps of ``train`` and store it in
    ``checkpoint`` (its record gets the command). Needed when the map coder or the segmenter changes.

    :return: the model.
    """
    _, label_set, _ = load_codec(checkpoint)
    if label_set.name != train.label_set.name:
        raise ValueError(f"{checkpoint} is for {label_set.name} frames, --data gives {train.label_set.name}")
    images, _ = load_all(train)
    maps = segmenter.segment(images)
    model = fit_map_model(maps, label_set.num_classes, scales=(1, 2, 4))
    replace_map_model(checkpoint, model)
    record = checkpoint.with_suffix(".txt")
    if record.exists():
        with record.open("a") as handle:
            handle.write(f"map model refitted on {len(images)} train maps: {command}\n")
    return model
