"""Scoring reconstructions: segment them in batches and compute every metric's per-frame value."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol

import numpy as np

from semlink.data.frame import Frame
from semlink.data.labelset import LabelSet
from semlink.metrics.base import FrameSample, Metric
from semlink.vision.segmenter import Segmenter
from semlink.workcache import WorkCache, array_key, digest, pack_array, pack_values, unpack_array, unpack_values

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
    as each batch is segmented; those that need the sent map also get the segmenter's labels of
    the original frames (the transmitter's map; cached like the others, so segmented once per
    frame where the work cache is on). Metrics that need the timing are computed in :meth:`values`,
    from the frames' final fates (a frame is complete only once the point's end says every
    packet of it arrived), and see empty arrays. Nothing is segmented if no metric needs labels
    or the map.

    :param segmenter: labels the reconstructions.
    :param label_set: the frames' classes (must match the segmenter's).
    :param metrics: the metrics to compute.
    :param batch: reconstructions segmented together.
    :param cache: the work cache of segmentations (keyed by the reconstruction's pixels and
        ``segmenter_key``); None: none, only counting.
    :param segmenter_key: the segmenter's identity; empty: segmentations are not cached.
    """

    def __init__(
        self,
        segmenter: Segmenter,
        label_set: LabelSet,
        metrics: Sequence[Metric],
        batch: int = 8,
        cache: WorkCache | None = None,
        segmenter_key: str = "",
    ) -> None:
        if segmenter.label_set != label_set:
            raise ValueError(
                f"segmenter predicts {segmenter.label_set.name} classes but the frames use "
                f"{label_set.name}; choose a segmenter for {label_set.name}"
            )
        self.segmenter, self.batch = segmenter, batch
        self.cache, self.segmenter_key = cache or WorkCache(None), segmenter_key
        self.label_set = label_set
        self._metrics_key: str | None = None
        self._frame_keys: dict[int, str] = {}
        self.pixel_metrics = [m for m in metrics if "timing" not in m.needs]
        self.timing_metrics = [m for m in metrics if "timing" in m.needs]
        self.needs_map = any("map" in m.needs for m in self.pixel_metrics)
        self.needs_labels = self.needs_map or any("labels" in m.needs for m in self.pixel_metrics)
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
        recons = [recon for _, recon, _ in self._pending]
        recon_keys = [array_key(recon) for recon in recons] if self.segmenter_key else []
        predictions = self.segmentations(recons, recon_keys, "segment") if self.needs_labels else None
        sent = None
        if self.needs_map:
            images = [frame.image for frame, _, _ in self._pending]
            image_keys = [array_key(image) for image in images] if self.segmenter_key else []
            sent = self.segmentations(images, image_keys, "segment-source")  # the transmitter's maps, shared
        for i, (frame, recon, fate) in enumerate(self._pending):
            prediction = predictions[i] if predictions is not None else EMPTY
            sample = sample_of(frame.image, recon, frame.labels, prediction, fate, sent[i] if sent else None)
            key = self.score_key(frame, recon_keys[i]) if recon_keys else None
            values = self.cache.get_or_compute("score", key, partial(self.scores, sample), pack_values, unpack_values)
            for metric, value in zip(self.pixel_metrics, values, strict=True):
                self._values[metric.name].append(value)
        self._pending = []

    def scores(self, sample: FrameSample) -> list[Any]:
        """Every pixel metric's value of one frame, in the order of :attr:`pixel_metrics`."""
        return [metric.frame(sample) for metric in self.pixel_metrics]

    def score_key(self, frame: Frame, recon_key: str) -> str:
        """The work cache's key of a frame's metric values: the metrics and their settings, the
        frame's pixels and labels, its reconstruction and the segmenter (which makes the prediction)."""
        if self._metrics_key is None:
            described = [
                [type(m).__module__, type(m).__qualname__, m.describe(), m.cache_version] for m in self.pixel_metrics
            ]
            self._metrics_key = digest(json.dumps(described, sort_keys=True, default=str), self.label_set.name)
        if frame.index not in self._frame_keys:
            self._frame_keys[frame.index] = digest(array_key(frame.image), array_key(frame.labels))
        return digest("score", self._metrics_key, self._frame_keys[frame.index], recon_key, self.segmenter_key)

    def segmentations(self, images: list[np.ndarray], content_keys: list[str], stage: str) -> list[np.ndarray]:
        """The segmenter's maps of ``images`` (whose content keys are ``content_keys``; none: not
        cached), under ``stage`` (``segment`` for reconstructions, ``segment-source`` for the
        originals, whose keys are the transmitter's): cached ones read, the rest in one batch."""
        keys: list[str | None] = [digest(stage, self.segmenter_key, key) for key in content_keys]
        keys = keys or [None] * len(images)

        def compute(positions: list[int]) -> list[np.ndarray]:
            return list(self.segmenter.segment(np.stack([images[i] for i in positions])))

        return self.cache.get_many(stage, keys, compute, pack_array, unpack_array)

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
    image: np.ndarray,
    recon: np.ndarray,
    labels: np.ndarray,
    prediction: np.ndarray,
    fate: FrameFate,
    sent_map: np.ndarray | None = None,
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
        sent_map=sent_map,
    )
