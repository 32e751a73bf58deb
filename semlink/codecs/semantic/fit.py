"""``semlink train codec``: data preparation, the Lightning run, validation and the checkpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from semlink.codecs.semantic.checkpoint import load_codec, replace_map_model, save_codec
from semlink.codecs.semantic.map_coder import fit_map_model
from semlink.codecs.semantic.net import GRID, CodecNetConfig, SemanticCodecNet, onehot_map
from semlink.codecs.semantic.train import CodecModule
from semlink.data.frame import FrameSource
from semlink.data.labelset import LabelSet
from semlink.vision.augment import CropStream
from semlink.vision.metrics import ConfusionMeter
from semlink.vision.segmenter import TorchSegmenter
from semlink.vision.train import ProgressPrinter, class_weights, load_all


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
    """

    max_minutes: float
    steps: int = 100_000
    crop: tuple[int, int] = (128, 192)
    batch: int = 8
    lr: float = 2e-3
    seed: int = 0
    threads: int = 2
    val_frames: int = 30


OPERATING_POINTS: dict[str, tuple[float, bool, bool]] = {
    "map only (ssm)": (0.0, True, False),
    "map + 10% tokens": (0.1, True, False),
    "map + 30% tokens": (0.3, True, False),
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
    """mIoU against the ground truth of the segmenter on each operating point's reconstruction."""
    maps = segmenter.segment(images)
    scores = {"clean image": _miou(segmenter, images, labels, label_set)}
    for name, (ratio, with_map, with_lowres) in OPERATING_POINTS.items():
        recon = []
        for start in range(0, len(images), 4):
            x = torch.from_numpy(images[start : start + 4]).permute(0, 3, 1, 2).float() / 255
            m = torch.from_numpy(maps[start : start + 4]).long()
            out = reconstruct(net, x, m, ratio, with_map, with_lowres)
            recon.append((out * 255).round().byte().permute(0, 2, 3, 1).numpy())
        scores[name] = _miou(segmenter, np.concatenate(recon), labels, label_set)
    return scores


def _miou(segmenter: TorchSegmenter, images: np.ndarray, labels: np.ndarray, label_set: LabelSet) -> float:
    meter = ConfusionMeter(label_set)
    meter.update(torch.from_numpy(segmenter.segment(images)), labels)
    return meter.scores().miou


def train_codec(
    train: FrameSource,
    val: FrameSource,
    segmenter: TorchSegmenter,
    settings: CodecTrainSettings,
    out: Path,
    command: str,
) -> dict[str, float]:
    """Train on ``train`` with maps from ``segmenter``, validate on ``val``, write ``out`` + record."""
    torch.set_num_threads(settings.threads)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    started = time.time()
    label_set = train.label_set
    print(f"loading {len(train)} training frames and segmenting them", flush=True)
    images, _ = load_all(train)
    maps = segmenter.segment(images)
    map_model = fit_map_model(maps, label_set.num_classes, scales=(1, 2, 4))
    config = CodecNetConfig(label_set.num_classes)
    module = CodecModule(
        config,
        segmenter.module,
        class_weights(maps, label_set),
        settings.lr,
        settings.steps,
        settings.max_minutes,
        seed=settings.seed,
    )
    stream = CropStream(images, maps, settings.crop, scale=(0.8, 1.25), seed=settings.seed)
    trainer = L.Trainer(
        max_time=timedelta(minutes=settings.max_minutes + 1),
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ProgressPrinter(batch=settings.batch)],
    )
    trainer.fit(module, train_dataloaders=DataLoader(stream, batch_size=settings.batch, num_workers=0))
    net = module.net.float().cpu().eval()
    val_images, val_labels = load_all(val, settings.val_frames)
    scores = validate(net, segmenter, val_images, val_labels, label_set)
    minutes = (time.time() - started) / 60.0
    meta: dict[str, object] = {"command": command, "seed": settings.seed, "minutes": round(minutes, 1)}
    save_codec(out, net, label_set, map_model, meta)
    write_record(out.with_suffix(".txt"), command, settings, module.steps_done, minutes, scores, out, len(images))
    return scores


def write_record(
    path: Path,
    command: str,
    settings: CodecTrainSettings,
    steps: int,
    minutes: float,
    scores: dict[str, float],
    checkpoint: Path,
    train_frames: int,
) -> None:
    """The text record beside a codec checkpoint: command, seed, time, size and val scores."""
    lines = [
        f"command: {command}",
        f"seed: {settings.seed}",
        f"settings: {settings}",
        f"train frames: {train_frames}; steps: {steps}; time: {minutes:.1f} min on {settings.threads} CPU threads",
        f"checkpoint size: {checkpoint.stat().st_size / 1e6:.2f} MB",
        f"val mIoU on the first {settings.val_frames} val frames (in-network decode, every stream arriving):",
        *(f"  {name}: {value:.4f}" for name, value in scores.items()),
    ]
    path.write_text("\n".join(lines) + "\n")


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
