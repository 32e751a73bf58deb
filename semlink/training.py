"""What the segmenter and codec training share: the leg schedule, the held-out split and the
evaluation sets, loading frames, class weights, the progress lines and the record.

A run is trained in *legs* (``semlink train ... --resume``). Each leg gets its own linear
warm-up + cosine decay to zero (a warm restart), over the larger of its step fraction and its
time fraction, so a time-budgeted leg ends its schedule at its deadline on any machine. Leg
``k`` (1-based) peaks at ``lr * RESTART_DECAY ** (k - 1)``: later legs refine what earlier legs
reached instead of undoing it, and no leg has to know how many legs will follow (a global
schedule over a planned total would need that number up front and could not be extended).

Both trainers (:mod:`semlink.vision.train`, :mod:`semlink.codecs.semantic.fit`) import their
shared helpers from here, so neither reaches into the other. It uses ``data`` and ``logs`` of the
project and never ``codecs``.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch

from semlink.data.frame import Frame, FrameSource
from semlink.data.labelset import LabelSet
from semlink.logs import duration

LOG = logging.getLogger(__name__)

WARMUP = 0.03
"""Fraction of a leg spent warming the learning rate up."""
RESTART_DECAY = 0.5
"""Peak learning rate of each leg relative to the one before."""
HOLDOUT_FRACTION = 0.15
"""Share of each drive of the training split held out for checkpoint selection."""
HOLDOUT_SEED = 0
"""Seed of the held-out blocks' positions: fixed, so every run holds out the same frames."""
HOLDOUT_GUARD = 2
"""Frames on each side of a held-out block used neither for training nor for selection."""
RENDERED_HOLDOUT_SEED = 10_007
"""Added to a rendered (synthetic) run's seed to render its held-out frames: other scenes."""
RENDERED_HOLDOUT_FRAMES = 100
"""Held-out frames of a rendered source (at most 15 % of its training frames)."""


def cosine_factor(progress: float, warmup: float = WARMUP) -> float:
    """Linear warm-up then cosine decay to zero, for ``progress`` in [0, 1] (clamped)."""
    progress = min(1.0, max(0.0, progress))
    if progress < warmup:
        return max(progress / warmup, 1e-3)
    return 0.5 * (1.0 + math.cos(math.pi * (progress - warmup) / (1.0 - warmup)))


def leg_peak_lr(lr: float, leg: int, decay: float = RESTART_DECAY) -> float:
    """Peak learning rate of leg ``leg`` (1-based) of a run whose first leg peaks at ``lr``."""
    return lr * decay ** max(0, leg - 1)


class LegClock:
    """Progress of one leg: the larger of its step fraction and its time fraction, in [0, 1].

    :param total_steps: the leg's step budget.
    :param max_minutes: the leg's time budget (None: steps only).
    """

    def __init__(self, total_steps: int, max_minutes: float | None = None) -> None:
        self.total_steps = max(1, total_steps)
        self.max_seconds = None if max_minutes is None else 60.0 * max_minutes
        self.started = time.monotonic()

    def progress(self, steps: int) -> float:
        """Fraction of the leg done after ``steps`` of its steps."""
        done = steps / self.total_steps
        if self.max_seconds is not None:
            done = max(done, (time.monotonic() - self.started) / self.max_seconds)
        return min(1.0, done)

    def factor(self, steps: int) -> float:
        """Learning-rate multiplier after ``steps`` of the leg's steps."""
        return cosine_factor(self.progress(steps))


def drive_of(name: str) -> str:
    """The drive a frame file belongs to: its name up to the first ``_`` (CamVid: ``0016E5``)."""
    return re.split(r"[_.]", Path(name).name, maxsplit=1)[0]


def holdout_split(
    names: Sequence[str],
    fraction: float = HOLDOUT_FRACTION,
    seed: int = HOLDOUT_SEED,
    guard: int = HOLDOUT_GUARD,
) -> tuple[list[int], list[int]]:
    """Split frame indices into (train, held-out), drive by drive.

    Neighbouring frames of a video are near copies, so a random pick would hold out frames
    whose neighbours are trained on. Instead, from each drive (frames sorted by name) one
    contiguous block of ``round(fraction * n)`` frames is held out, at a position drawn from
    ``seed``; ``guard`` frames on each side of it are dropped from both sets.

    :param names: file names of the split's frames (index = position in this list).
    :return: sorted training indices and sorted held-out indices, disjoint.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held-out fraction {fraction} must lie strictly between 0 and 1")
    drives: dict[str, list[int]] = {}
    for index, name in sorted(enumerate(names), key=lambda pair: pair[1]):
        drives.setdefault(drive_of(name), []).append(index)
    rng = np.random.default_rng([seed, 12])
    train: list[int] = []
    held: list[int] = []
    for drive in sorted(drives):
        members = drives[drive]
        size = max(1, round(fraction * len(members)))
        start = int(rng.integers(0, len(members) - size + 1))
        held += members[start : start + size]
        keep = members[: max(0, start - guard)] + members[start + size + guard :]
        train += keep
    return sorted(train), sorted(held)


def format_scores(scores: Mapping[str, float]) -> list[str]:
    """``name: value`` lines, four decimals."""
    return [f"  {name}: {value:.4f}" for name, value in scores.items()]


def format_class_table(classes: Sequence[str], columns: Mapping[str, Sequence[float]]) -> list[str]:
    """A per-class IoU table: one row per class, one column per evaluation set."""
    names = list(columns)
    lines = ["  IoU per class (" + " / ".join(names) + "):"]
    for row, name in enumerate(classes):
        lines.append(f"    {name}: " + " / ".join(f"{float(columns[c][row]):.4f}" for c in names))
    return lines


def write_record(
    path: Path, header: Sequence[str], legs: Sequence[Mapping[str, object]], classes: Sequence[str] = ()
) -> None:
    """The text record beside a checkpoint: ``header`` lines, then every leg of the run.

    Each leg is a mapping with ``command``, ``seed``, ``minutes``, ``steps`` (cumulative),
    optional ``notes`` (name -> text), ``scores`` (name -> float) and ``per_class``
    (evaluation set -> IoU per class of ``classes``).
    """
    lines = list(header)
    total = 0.0
    for number, leg in enumerate(legs, 1):
        minutes = float(leg["minutes"])  # type: ignore[arg-type]
        total += minutes
        lines += [
            f"leg {number}:",
            f"  command: {leg['command']}",
            f"  seed: {leg['seed']}",
            f"  minutes: {minutes:.1f} (run total {total:.1f}); steps (cumulative): {leg['steps']}",
        ]
        lines += [f"  {k}: {v}" for k, v in dict(leg.get("notes") or {}).items()]  # type: ignore[call-overload]
        lines += format_scores(dict(leg.get("scores") or {}))  # type: ignore[call-overload]
        per_class = leg.get("per_class")
        if per_class and classes:
            lines += format_class_table(classes, per_class)  # type: ignore[arg-type]
    path.write_text("\n".join(lines) + "\n")


class Picked(FrameSource):
    """The frames of ``source`` at ``indices``, in that order.

    :param source: the full source.
    :param indices: positions in ``source``.
    """

    def __init__(self, source: FrameSource, indices: Sequence[int]) -> None:
        self.source = source
        self.indices = list(indices)
        self.label_set = source.label_set

    def __len__(self) -> int:
        return len(self.indices)

    def frame(self, index: int) -> Frame:
        """Frame ``indices[index]`` of the underlying source."""
        return self.source.frame(self.indices[index])


def frame_names(source: FrameSource) -> list[str] | None:
    """File names of a file-based source's frames (its ``images`` paths); None if it renders them."""
    images = getattr(source, "images", None)
    if not isinstance(images, list) or not images:
        return None
    return [Path(p).name for p in images]


def selection_split(
    data: str,
    size: tuple[int, int] | None,
    root: str | None,
    seed: int,
    train_frames: int | None = None,
) -> tuple[FrameSource, FrameSource, str]:
    """The training frames, the held-out frames the checkpoint is selected on, and how they were made.

    File-based sources (CamVid): :func:`holdout_split` of the train split (never trained on).
    Rendered sources (synthetic): the train split rendered with scene seed
    ``seed + RENDERED_HOLDOUT_SEED``, i.e. other scenes than the ones trained on.
    ``train_frames`` keeps the first N training frames.
    """
    from semlink.data import open_source

    full = open_source(data, "train", size, root, seed=seed)
    names = frame_names(full)
    if names is not None:
        kept, held = holdout_split(names)
        train: FrameSource = Picked(full, kept[:train_frames] if train_frames else kept)
        note = (
            f"held-out: {len(held)} of {len(full)} train frames, one block of {HOLDOUT_FRACTION:.0%} per drive "
            f"(seed {HOLDOUT_SEED}, {HOLDOUT_GUARD}-frame guard each side, dropped from training); "
            f"training on {len(train)}"
        )
        return train, Picked(full, held), note
    count = min(len(full), train_frames) if train_frames else len(full)
    train = Picked(full, range(count))
    others = open_source(data, "train", size, root, seed=seed + RENDERED_HOLDOUT_SEED)
    held_count = max(1, min(RENDERED_HOLDOUT_FRAMES, round(HOLDOUT_FRACTION * count), len(others)))
    note = f"held-out: {held_count} train frames rendered with scene seed {seed + RENDERED_HOLDOUT_SEED}"
    return train, Picked(others, range(held_count)), note


@dataclass(frozen=True)
class EvalSets:
    """The frames a leg is selected on and reported on.

    :param holdout: held out of the training split (selection).
    :param val: the val split (reported, never selected on).
    :param note: how the held-out frames were made (for the record).
    """

    holdout: FrameSource
    val: FrameSource
    note: str = ""


def load_all(source: FrameSource, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack the frames of ``source`` (the first ``limit``) into image and label arrays."""
    frames = list(source.take(limit))
    return np.stack([f.image for f in frames]), np.stack([f.labels for f in frames])


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


class ProgressPrinter(L.Callback):
    """Logs step, loss, learning rate, crops/s and the leg's ETA every ``every`` steps (plain lines,
    readable in a log file; the ``semlink`` logger, so ``-q`` and ``--log-file`` apply).

    :param every: steps between lines.
    :param batch: crops per step.
    :param offset: steps of earlier legs (the logged step is the run's).
    :param steps: the leg's step budget. :param max_minutes: the leg's time budget (None: none).
    """

    def __init__(
        self,
        every: int = 50,
        batch: int = 8,
        offset: int = 0,
        steps: int | None = None,
        max_minutes: float | None = None,
    ) -> None:
        self.every, self.batch, self.offset = every, batch, offset
        self.steps, self.max_minutes = steps, max_minutes
        self.started = time.monotonic()

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: object, batch: object, batch_idx: int
    ) -> None:
        """Log a line every ``every`` steps."""
        # the leg's training steps: a module that optimises two networks in turn counts its own
        # (the trainer's global step counts every optimiser step)
        steps_done = getattr(module, "steps_done", None)
        step = int(steps_done) - self.offset if steps_done is not None else trainer.global_step
        if step % self.every:
            return
        elapsed = time.monotonic() - self.started
        loss = float(trainer.callback_metrics.get("loss", float("nan")))
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        LOG.info(
            "training step %d (leg %d%s) · loss %.4f · lr %.2e · %.1f crops/s · %s · ETA %s",
            self.offset + step,
            step,
            f"/{self.steps}" if self.steps else "",
            loss,
            lr,
            step * self.batch / max(elapsed, 1e-9),
            duration(elapsed),
            duration(self.left_s(step, elapsed)),
        )

    def left_s(self, step: int, elapsed: float) -> float:
        """Seconds the leg still has: the sooner of its step and time budgets."""
        left = [] if self.max_minutes is None else [60 * self.max_minutes - elapsed]
        if self.steps and step:
            left.append((self.steps - step) * elapsed / step)
        return min(left) if left else 0.0
