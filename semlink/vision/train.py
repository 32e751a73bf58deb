"""Training the segmenter with Lightning: crops in, a checkpoint and its record out."""

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
import torch.nn.functional as F
from torch.utils.data import DataLoader

from semlink.data.frame import FrameSource
from semlink.data.labelset import LabelSet
from semlink.training import EvalSets, LegClock, ProgressPrinter, class_weights, leg_peak_lr, load_all, write_record
from semlink.vision.augment import CropStream
from semlink.vision.checkpoint import load_resume, load_segmenter, save_resume, save_segmenter
from semlink.vision.metrics import ConfusionMeter, SegmentationScores
from semlink.vision.net import FastSegNet, SegNetConfig

if TYPE_CHECKING:
    from semlink.tracking import TensorBoardTracker

LOG = logging.getLogger(__name__)


class SegmenterModule(L.LightningModule):
    """Cross-entropy training of :class:`FastSegNet` with AdamW on one leg's warm-up + cosine
    schedule (:mod:`semlink.training`).

    :param config: network shape.
    :param weights: ``[C]`` class weights of the loss.
    :param ignore_index: label value left out of the loss.
    :param lr: the leg's peak learning rate.
    :param total_steps: the leg's step budget.
    :param max_minutes: the leg's time budget (the schedule ends at it).
    :param optimizer_state: AdamW state of an earlier leg to continue from.
    """

    weights: torch.Tensor

    def __init__(
        self,
        config: SegNetConfig,
        weights: torch.Tensor,
        ignore_index: int,
        lr: float = 3e-3,
        total_steps: int = 1000,
        max_minutes: float | None = None,
        optimizer_state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.clock = LegClock(total_steps, max_minutes)
        self.net = FastSegNet(config).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.register_buffer("weights", weights)
        self.ignore_index = ignore_index
        self.lr = lr
        self.optimizer_state = optimizer_state

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` in [0, 1] -> ``[N, C, H, W]`` logits."""
        return self.net(images)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """One step of weighted cross-entropy; logs ``loss``."""
        images, labels = batch
        logits = self.net(images.contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(logits, labels, weight=self.weights, ignore_index=self.ignore_index)
        self.log("loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        """AdamW (continuing ``optimizer_state`` if given) on the leg's schedule, peaking at ``lr``."""
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=1e-4)
        if self.optimizer_state is not None:
            optimizer.load_state_dict(self.optimizer_state)
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] = self.lr
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.clock.factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


THIN_CLASSES = frozenset(
    {"pole", "sign_symbol", "pedestrian", "bicyclist", "traffic_light", "traffic_sign", "person", "rider", "bicycle"}
)
"""Classes whose crops are over-sampled (thin or rare: where a segmenter loses most)."""


@dataclass(frozen=True)
class TrainSettings:
    """What ``semlink train segmenter`` was asked for (one leg; a resumed run keeps the shape).

    :param epochs: the leg's step budget in passes over the training frames (an epoch = as
        many crops as frames).
    :param crop: ``(h, w)`` of the training crops.
    :param batch: crops per step.
    :param lr: peak learning rate of the first leg (leg ``k`` peaks at ``lr / 2**(k-1)``).
    :param seed: the run's seed (network init and crop stream are drawn from it).
    :param widths: network channels at 1/4, 1/8, 1/16.
    :param decoder: decoder channels.
    :param max_minutes: stop the leg after this much time even if epochs remain.
    :param threads: torch CPU threads.
    :param eval_every: also score the held-out frames every N steps, keeping the best (0: at
        the end of the leg only).
    :param focus_share: share of crops placed on a thin class (:data:`THIN_CLASSES`).
    :param strong: channel gains, blur and stronger noise in the augmentation.
    :param scale: range of the random scale factor of the crops.
    """

    epochs: int
    crop: tuple[int, int] = (256, 320)
    batch: int = 8
    lr: float = 3e-3
    seed: int = 0
    widths: tuple[int, int, int] = (32, 64, 128)
    decoder: int = 64
    max_minutes: float | None = None
    threads: int = 2
    eval_every: int = 0
    focus_share: float = 0.4
    strong: bool = True
    scale: tuple[float, float] = (0.7, 1.6)

    def to_dict(self) -> dict[str, object]:
        """Plain values (for the resume state)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainSettings:
        """The settings stored by :meth:`to_dict`."""
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return cls(**values)


def evaluate_arrays(
    net: FastSegNet, images: np.ndarray, labels: np.ndarray, label_set: LabelSet, batch: int = 8
) -> SegmentationScores:
    """Dataset-wide scores of ``net`` on ``images [N, H, W, 3]``; leaves ``net`` in eval mode."""
    meter = ConfusionMeter(label_set)
    net.eval()
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            x = torch.from_numpy(images[start : start + batch]).permute(0, 3, 1, 2)
            logits = net(x.float().div(255.0).contiguous(memory_format=torch.channels_last))
            meter.update(logits.argmax(1), labels[start : start + batch])
    return meter.scores()


def segment_arrays(net: FastSegNet, images: np.ndarray, batch: int = 8) -> np.ndarray:
    """Label maps ``[N, H, W]`` uint8 of ``net`` on ``images [N, H, W, 3]``; leaves ``net`` in eval mode."""
    net.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            x = torch.from_numpy(images[start : start + batch]).permute(0, 3, 1, 2)
            out.append(net(x.float().div(255.0).contiguous(memory_format=torch.channels_last)).argmax(1).byte())
    return torch.cat(out).numpy()


def evaluate_net(net: FastSegNet, source: FrameSource, batch: int = 8) -> SegmentationScores:
    """Dataset-wide scores of ``net`` on every frame of ``source``."""
    images, labels = load_all(source)
    return evaluate_arrays(net, images, labels, source.label_set, batch)


class HoldoutSelector(L.Callback):
    """Keeps the network state that scores best on the held-out frames.

    :param images: held-out frames. :param labels: their labels. :param label_set: classes.
    :param every: steps between evaluations during the leg (0: none; call :meth:`consider` at the end).
    :param offset: steps of earlier legs.
    :param best: best held-out mIoU of earlier legs (their selected net stays unless beaten).
    """

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, label_set: LabelSet, every: int, offset: int, best: float
    ) -> None:
        self.images, self.labels, self.label_set = images, labels, label_set
        self.every, self.offset, self.best = every, offset, best
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_step: int | None = None

    def consider(self, net: FastSegNet, step: int) -> SegmentationScores:
        """Score ``net`` (at run step ``step``) and keep it if it is the best so far."""
        training = net.training
        scores = evaluate_arrays(net, self.images, self.labels, self.label_set)
        net.train(training)
        if scores.miou > self.best:
            self.best, self.best_step = scores.miou, step
            self.best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        LOG.info("step %d held-out mIoU %.4f (best %.4f)", step, scores.miou, self.best)
        return scores

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: object, batch: object, batch_idx: int
    ) -> None:
        """Score every ``every`` steps."""
        if self.every and trainer.global_step % self.every == 0:
            self.consider(module.net, self.offset + trainer.global_step)  # type: ignore[arg-type]


def train_segmenter(
    train: FrameSource,
    sets: EvalSets,
    settings: TrainSettings,
    out: Path,
    command: str,
    resume: Path | None = None,
    data: dict[str, object] | None = None,
    tracker: TensorBoardTracker | None = None,
) -> dict[str, float]:
    """Train one leg on ``train`` (a new run, or continuing the run of ``resume``), select on
    the held-out frames, report val; write ``out``, its ``.txt`` record and its ``.resume`` state.

    :param data: how the frames were opened (kept in the resume state for the next leg).
    :param tracker: also send losses, scores and sample segmentations to TensorBoard.
    :return: the leg's scores (held-out and val mIoU).
    """
    torch.set_num_threads(settings.threads)
    started = time.time()
    state = load_resume(resume, "segmenter") if resume is not None else None
    legs: list[dict[str, Any]] = list(state["legs"]) if state else []
    offset = int(state["step"]) if state else 0
    images, labels = load_all(train)
    label_set = train.label_set
    held_images, held_labels = load_all(sets.holdout)
    lr = leg_peak_lr(settings.lr, len(legs) + 1)
    leg_steps = max(1, len(images) // settings.batch) * settings.epochs
    config = SegNetConfig(label_set.num_classes, settings.widths, settings.decoder)
    init_seed, stream_seed = (int(s) for s in np.random.SeedSequence(settings.seed).generate_state(2))
    with torch.random.fork_rng():
        torch.manual_seed(init_seed)
        module = SegmenterModule(
            config,
            class_weights(labels, label_set),
            label_set.ignore_index,
            lr,
            leg_steps,
            settings.max_minutes,
            optimizer_state=state["optimizer"] if state else None,
        )
    stream = crop_stream(images, labels, label_set, settings, stream_seed)
    best = -1.0
    if state:
        module.net.load_state_dict(state["net"])
        stream.restore(state["stream"])
        best = float(state["best"])
    selector = HoldoutSelector(held_images, held_labels, label_set, settings.eval_every, offset, best)
    trainer = L.Trainer(
        max_steps=leg_steps,
        max_time=None if settings.max_minutes is None else timedelta(minutes=settings.max_minutes),
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        log_every_n_steps=20,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[
            ProgressPrinter(batch=settings.batch, offset=offset, steps=leg_steps, max_minutes=settings.max_minutes),
            selector,
            *([tracker] if tracker else []),
        ],
    )
    trainer.fit(module, train_dataloaders=DataLoader(stream, batch_size=settings.batch, num_workers=0))
    steps = offset + int(trainer.global_step)
    net = module.net.float().cpu()
    last = selector.consider(net, steps)
    resume_state: dict[str, object] = {
        "net": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "optimizer": trainer.optimizers[0].state_dict(),
        "stream": stream.state(),
        "step": steps,
        "best": selector.best,
        "settings": settings.to_dict(),
        "data": data or {},
    }
    selected, where = select(net, selector, state, resume, legs)
    held = evaluate_arrays(selected, held_images, held_labels, label_set)
    val = evaluate_net(selected, sets.val)
    legs.append(
        {
            "command": command,
            "seed": settings.seed,
            "minutes": round((time.time() - started) / 60.0, 1),
            "steps": steps,
            "notes": {
                "leg": f"{steps - offset} steps, peak lr {lr:.2e}, {settings.threads} CPU threads",
                "selected net": where,
            },
            "scores": {
                "held-out mIoU (last net)": last.miou,
                "held-out mIoU (selected net)": held.miou,
                "val mIoU (selected net)": val.miou,
                "val pixel accuracy (selected net)": val.pixel_accuracy,
            },
            "per_class": {"held-out": list(held.class_iou), "val": list(val.class_iou)},
        }
    )
    resume_state["legs"] = legs
    meta: dict[str, object] = {
        "command": command,
        "seed": settings.seed,
        "minutes": round(sum(float(leg["minutes"]) for leg in legs), 1),
        "steps": steps,
        "holdout_miou": held.miou,
        "val_miou": val.miou,
        "legs": legs,
    }
    save_segmenter(out, selected, label_set, meta)
    save_resume(out, "segmenter", resume_state)
    header = [
        f"semlink segmenter checkpoint: {len(legs)} leg(s), {steps} steps; every leg below",
        f"data: {sets.note}; val: {len(sets.val)} frames (reported, never selected on)",
        f"settings (latest leg): {settings}",
        f"selected net: {where} (best held-out mIoU over every evaluation of every leg)",
        f"resume state: {out.with_suffix('.resume').name} beside this file (last weights + optimizer; not shipped)",
    ]
    write_record(out.with_suffix(".txt"), header, legs, label_set.classes)
    scores = {"held-out mIoU": held.miou, "val mIoU": val.miou}
    if tracker is not None:
        track_leg(tracker, selected, sets.val, settings, scores, steps)
    return scores


def track_leg(
    tracker: TensorBoardTracker,
    net: FastSegNet,
    val: FrameSource,
    settings: TrainSettings,
    scores: dict[str, float],
    step: int,
) -> None:
    """The leg's settings, scores and three val frames (frame | labels | segmentation) in TensorBoard."""
    from semlink.tracking import side_by_side

    images, labels = load_all(val, 3)
    predicted = segment_arrays(net, images)
    colour = val.label_set.colorize
    sheet = side_by_side(images, np.stack([colour(x) for x in labels]), np.stack([colour(x) for x in predicted]))
    tracker.log_leg(settings.to_dict(), scores, "val/frame | labels | segmentation", sheet, step)


def crop_stream(
    images: np.ndarray, labels: np.ndarray, label_set: LabelSet, settings: TrainSettings, seed: int
) -> CropStream:
    """The leg's crop stream: the settings' augmentation, thin classes over-sampled."""
    focus = [i for i, name in enumerate(label_set.classes) if name in THIN_CLASSES]
    return CropStream(
        images,
        labels,
        settings.crop,
        scale=settings.scale,
        seed=seed,
        focus=focus,
        focus_share=settings.focus_share,
        strong=settings.strong,
    )


def select(
    net: FastSegNet,
    selector: HoldoutSelector,
    state: dict[str, object] | None,
    resume: Path | None,
    legs: list[dict[str, Any]],
) -> tuple[FastSegNet, str]:
    """The net to ship: the best of this leg's evaluations, else the one earlier legs selected."""
    leg = len(legs) + 1
    if selector.best_state is not None:
        net.load_state_dict(selector.best_state)
        return net.eval(), f"leg {leg}, step {selector.best_step}"
    if state is None or resume is None:
        return net.eval(), f"leg {leg}, last step"
    earlier, _ = load_segmenter(resume)
    previous = legs[-1]["notes"] if legs else {}
    return earlier.eval(), str(previous.get("selected net", "an earlier leg"))
