"""Training the segmenter with Lightning: crops in, a checkpoint and its record out."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from semlink.data.frame import FrameSource
from semlink.data.labelset import LabelSet
from semlink.vision.augment import CropStream
from semlink.vision.checkpoint import save_segmenter
from semlink.vision.metrics import ConfusionMeter, SegmentationScores
from semlink.vision.net import FastSegNet, SegNetConfig


def class_weights(labels: np.ndarray, label_set: LabelSet, power: float = 0.5) -> torch.Tensor:
    """Median-frequency class weights raised to ``power`` (0.5 tempers them), mean 1.

    Classes absent from ``labels`` get the largest weight of the present ones.
    """
    counts = np.bincount(labels.ravel(), minlength=256)[: label_set.num_classes].astype(np.float64)
    freq = counts / max(counts.sum(), 1.0)
    present = freq > 0
    weights = np.ones(label_set.num_classes)
    weights[present] = (np.median(freq[present]) / freq[present]) ** power
    weights[~present] = weights[present].max() if present.any() else 1.0
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


class SegmenterModule(L.LightningModule):
    """Cross-entropy training of :class:`FastSegNet` with AdamW and a warm-up + cosine schedule.

    :param config: network shape.
    :param weights: ``[C]`` class weights of the loss.
    :param ignore_index: label value left out of the loss.
    :param lr: peak learning rate.
    :param total_steps: length of the cosine schedule.
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
    ) -> None:
        super().__init__()
        self.max_seconds = None if max_minutes is None else 60.0 * max_minutes
        self.started = time.monotonic()
        self.net = FastSegNet(config).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.register_buffer("weights", weights)
        self.ignore_index = ignore_index
        self.lr = lr
        self.total_steps = max(total_steps, 1)

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
        """AdamW with linear warm-up over the first 3 % of training, then cosine decay to zero.

        Progress is the step fraction or, with a time budget, the larger of the step and the
        time fraction, so the schedule ends at the deadline even on a slower machine.
        """
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=1e-4)
        warmup = 0.03

        def factor(step: int) -> float:
            progress = step / self.total_steps
            if self.max_seconds is not None:
                progress = max(progress, (time.monotonic() - self.started) / self.max_seconds)
            progress = min(1.0, progress)
            if progress < warmup:
                return max(progress / warmup, 1e-3)
            return 0.5 * (1.0 + math.cos(math.pi * (progress - warmup) / (1.0 - warmup)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class ProgressPrinter(L.Callback):
    """Prints step, loss, learning rate and crops/s every ``every`` steps (readable in a log file).

    :param every: steps between lines.
    :param batch: crops per step.
    """

    def __init__(self, every: int = 50, batch: int = 8) -> None:
        self.every, self.batch = every, batch
        self.started = time.monotonic()

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: object, batch: object, batch_idx: int
    ) -> None:
        """Print a line every ``every`` steps."""
        step = trainer.global_step
        if step % self.every:
            return
        elapsed = time.monotonic() - self.started
        loss = float(trainer.callback_metrics.get("loss", float("nan")))
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        print(
            f"step {step} loss {loss:.4f} lr {lr:.2e} {elapsed / 60:.1f} min "
            f"{step * self.batch / max(elapsed, 1e-9):.1f} crops/s",
            flush=True,
        )


@dataclass(frozen=True)
class TrainSettings:
    """What ``semlink train segmenter`` was asked for.

    :param epochs: passes over the training frames (an epoch = as many crops as frames).
    :param crop: ``(h, w)`` of the training crops.
    :param batch: crops per step.
    :param lr: peak learning rate.
    :param seed: the run's seed.
    :param widths: network channels at 1/4, 1/8, 1/16.
    :param decoder: decoder channels.
    :param max_minutes: stop after this much time even if epochs remain.
    :param threads: torch CPU threads.
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


def load_all(source: FrameSource, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack the frames of ``source`` (the first ``limit``) into image and label arrays."""
    frames = list(source.take(limit))
    return np.stack([f.image for f in frames]), np.stack([f.labels for f in frames])


def evaluate_net(net: FastSegNet, source: FrameSource, batch: int = 8) -> SegmentationScores:
    """Dataset-wide scores of ``net`` on every frame of ``source``."""
    meter = ConfusionMeter(source.label_set)
    net.eval()
    frames = list(source)
    with torch.inference_mode():
        for start in range(0, len(frames), batch):
            group = frames[start : start + batch]
            images = torch.from_numpy(np.stack([f.image for f in group])).permute(0, 3, 1, 2)
            logits = net(images.float().div(255.0).contiguous(memory_format=torch.channels_last))
            meter.update(logits.argmax(1), np.stack([f.labels for f in group]))
    return meter.scores()


def train_segmenter(
    train: FrameSource, val: FrameSource, settings: TrainSettings, out: Path, command: str
) -> SegmentationScores:
    """Train on ``train``, score on ``val``, write ``out`` and ``out.with_suffix('.txt')``.

    :return: the final scores on ``val``.
    """
    torch.set_num_threads(settings.threads)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    started = time.time()
    images, labels = load_all(train)
    label_set = train.label_set
    steps_per_epoch = max(1, len(images) // settings.batch)
    total_steps = steps_per_epoch * settings.epochs
    config = SegNetConfig(label_set.num_classes, settings.widths, settings.decoder)
    module = SegmenterModule(
        config, class_weights(labels, label_set), label_set.ignore_index, settings.lr, total_steps, settings.max_minutes
    )
    stream = CropStream(images, labels, settings.crop, seed=settings.seed)
    loader = DataLoader(stream, batch_size=settings.batch, num_workers=0)
    max_time = None
    if settings.max_minutes is not None:
        max_time = timedelta(minutes=settings.max_minutes)
    trainer = L.Trainer(
        max_steps=total_steps,
        max_time=max_time,
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        log_every_n_steps=20,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ProgressPrinter(batch=settings.batch)],
    )
    trainer.fit(module, train_dataloaders=loader)
    net = module.net.float().cpu().to(memory_format=torch.contiguous_format)
    scores = evaluate_net(net, val)
    minutes = (time.time() - started) / 60.0
    meta: dict[str, object] = {
        "command": command,
        "seed": settings.seed,
        "minutes": round(minutes, 1),
        "steps": int(trainer.global_step),
        "val_miou": scores.miou,
    }
    save_segmenter(out, net, label_set, meta)
    write_record(
        out.with_suffix(".txt"),
        command,
        settings,
        trainer.global_step,
        minutes,
        scores,
        label_set,
        len(images),
        len(val),
    )
    return scores


def write_record(
    path: Path,
    command: str,
    settings: TrainSettings,
    steps: int,
    minutes: float,
    scores: SegmentationScores,
    label_set: LabelSet,
    train_frames: int,
    val_frames: int,
) -> None:
    """The text record beside a checkpoint: command, seed, time and val scores per class."""
    lines = [
        f"command: {command}",
        f"seed: {settings.seed}",
        f"settings: {settings}",
        f"train frames: {train_frames}; steps: {steps}; time: {minutes:.1f} min on "
        f"{torch.get_num_threads()} CPU threads",
        f"val frames: {val_frames}; val mIoU: {scores.miou:.4f}; pixel accuracy: {scores.pixel_accuracy:.4f}",
        "val IoU per class:",
    ]
    lines += [f"  {name}: {iou:.4f}" for name, iou in zip(label_set.classes, scores.class_iou, strict=True)]
    path.write_text("\n".join(lines) + "\n")
