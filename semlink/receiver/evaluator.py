"""Scoring reconstructions: segment them in batches and compute every metric's per-frame value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from semlink.data.frame import Frame
from semlink.data.labelset import LabelSet
from semlink.metrics.base import FrameSample, Metric
from semlink.vision.segmenter import Segmenter

EMPTY = np.empty((0, 0), dtype=np.uint8)


class FrameFate(Protocol):
    """What the receiver knows of a frame's delivery (a :class:`semlink.receiver.node.FrameRecord`)."""

    frame: int
    packets_received: int
    complete: bool
    concealed: bool
    latency_ms: float | None


class Evaluator:
    """Collects ``(frame, reconstruction)`` pairs, segments them in batches, keeps each metric's
    per-frame values.

    Batches are cut by count only, so the same frames give the same batches (and the same
    numbers) whichever transport delivered them. Metrics that need pixels or labels are computed
    as each batch is segmented; metrics that need the timing are computed in :meth:`values`,
    from the frames' final fates (a frame is complete only once the point's end says every
    packet of it arrived), and see empty arrays. Nothing is segmented if no metric needs labels.

    :param segmenter: labels the reconstructions.
    :param label_set: the frames' classes (must match the segmenter's).
    :param metrics: the metrics to compute.
    :param batch: reconstructions segmented together.
    """

    def __init__(self, segmenter: Segmenter, label_set: LabelSet, metrics: Sequence[Metric], batch: int = 8) -> None:
        if segmenter.label_set != label_set:
            raise ValueError(
                f"segmenter predicts {segmenter.label_set.name} classes but the frames use "
                f"{label_set.name}; choose a segmenter for {label_set.name}"
            )
        self.segmenter, self.batch = segmenter, batch
        self.pixel_metrics = [m for m in metrics if "timing" not in m.needs]
        self.timing_metrics = [m for m in metrics if "timing" in m.needs]
        self.needs_labels = any("labels" in m.needs for m in self.pixel_metrics)
        self._pending: list[tuple[Frame, np.ndarray, FrameFate]] = []
        self._values: dict[str, list[Any]] = {m.name: [] for m in self.pixel_metrics}

    def add(self, frame: Frame, recon: np.ndarray, fate: FrameFate) -> None:
        """Score ``recon`` (``[H, W, 3]`` uint8) against ``frame``, segmenting once a batch is full."""
        self._pending.append((frame, recon, fate))
        if len(self._pending) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        recons = np.stack([recon for _, recon, _ in self._pending])
        predictions = self.segmenter.segment(recons) if self.needs_labels else None
        for i, (frame, recon, fate) in enumerate(self._pending):
            prediction = predictions[i] if predictions is not None else EMPTY
            sample = sample_of(frame.image, recon, frame.labels, prediction, fate)
            for metric in self.pixel_metrics:
                self._values[metric.name].append(metric.frame(sample))
        self._pending = []

    def values(self, fates: Sequence[FrameFate]) -> dict[str, list[Any]]:
        """Finish pending batches; metric name -> one value per frame, in the order frames were added.

        :param fates: the frames' final fates, in the order they were added.
        """
        self._flush()
        out = {name: list(values) for name, values in self._values.items()}
        for metric in self.timing_metrics:
            out[metric.name] = [metric.frame(sample_of(EMPTY, EMPTY, EMPTY, EMPTY, fate)) for fate in fates]
        return out


def sample_of(
    image: np.ndarray, recon: np.ndarray, labels: np.ndarray, prediction: np.ndarray, fate: FrameFate
) -> FrameSample:
    """A :class:`FrameSample` from the arrays and the frame's fate."""
    return FrameSample(
        index=fate.frame,
        image=image,
        recon=recon,
        labels=labels,
        prediction=prediction,
        latency_ms=fate.latency_ms,
        packets_received=fate.packets_received,
        complete=fate.complete,
        concealed=fate.concealed,
    )
