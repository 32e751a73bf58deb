"""Task metrics from dataset-wide confusion counts: mIoU with per-class IoU, pixel accuracy, and
the map consistency (mIoU of the segmenter's view of the reconstruction against the sent map)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import chain
from typing import Any, ClassVar

import numpy as np

from semlink.data.labelset import LabelSet
from semlink.metrics.base import METRICS, FrameSample, Metric, check_weights
from semlink.vision.metrics import ConfusionMeter


def frame_confusion(label_set: LabelSet, labels: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """One frame's ``[C, C]`` int64 confusion counts (rows truth), scored as :class:`ConfusionMeter` does.

    :param labels: ``[H, W]`` uint8 truth (the ignore index is not scored).
    :param prediction: ``[H, W]`` uint8 prediction (outside the classes counts as wrong).
    """
    meter = ConfusionMeter(label_set)
    meter.update(prediction, labels)
    return meter.matrix.numpy()


@METRICS.register("miou")
class MeanIoU(Metric):
    """Mean IoU over classes, with each class's IoU (Cityscapes convention).

    Needs the labels. Frame value: the frame's confusion counts as sparse
    ``[[truth, prediction, count], ...]`` triples (nonzero cells only; pixels labelled with the
    ignore index are not counted, a prediction outside the classes counts as wrong, as in
    :class:`~semlink.vision.metrics.ConfusionMeter`). Frames combine into ONE dataset-wide
    matrix, the weighted sum of theirs; IoU per class from it, and the mean over the classes
    present in truth or prediction. Columns: ``miou``, then ``iou_<class>`` for every class
    of the label set (NaN for a class absent from truth and prediction).
    """

    name: ClassVar[str] = "miou"
    needs: ClassVar[frozenset[str]] = frozenset({"labels"})

    def columns(self) -> tuple[str, ...]:
        """``miou``, then ``iou_<class>`` in label-set order."""
        return ("miou", *(f"iou_{name}" for name in self.label_set.classes))

    def frame(self, sample: FrameSample) -> list[list[int]]:
        """Nonzero confusion cells ``[truth, prediction, count]``, row-major."""
        matrix = frame_confusion(self.label_set, sample.labels, sample.prediction)
        truth, pred = np.nonzero(matrix)
        return [[int(t), int(p), int(matrix[t, p])] for t, p in zip(truth, pred, strict=True)]

    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """mIoU and per-class IoU of the weighted sum of the frames' matrices (as
        :func:`~semlink.vision.metrics.scores_from_confusion` scores them, in numpy: a bootstrap
        calls this a thousand times a point, and torch's per-call cost dominates at 19 classes)."""
        matrix = self.matrix(values, weights)
        true_positive = np.diag(matrix)
        union = matrix.sum(0) + matrix.sum(1) - true_positive
        iou = np.full(union.shape, np.nan)
        np.divide(true_positive, union, out=iou, where=union > 0)
        present = ~np.isnan(iou)
        miou = float(iou[present].mean()) if present.any() else math.nan
        return dict(zip(self.columns(), (miou, *(float(v) for v in iou)), strict=True))

    def matrix(self, values: Sequence[Any], weights: np.ndarray) -> np.ndarray:
        """The ``[C, C]`` float64 weighted sum of the frames' confusion counts (exact: integer
        counts times integer multiplicities)."""
        w = check_weights(values, weights)
        cells, lengths = self._cells(values)
        size = self.label_set.num_classes
        flat = np.bincount(
            cells[:, 0] * size + cells[:, 1], weights=cells[:, 2] * np.repeat(w, lengths), minlength=size * size
        )
        return flat.reshape(size, size)

    def _cells(self, values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """``[N, 3]`` int64 cells of every frame and ``[F]`` cells per frame; a bootstrap asks for
        the same ``values`` once per resample, so the last conversion is kept (by identity)."""
        last = getattr(self, "_last_cells", None)
        if last is not None and last[0] is values and last[1] == len(values):
            return last[2], last[3]
        lengths = np.fromiter((len(frame) for frame in values), dtype=np.int64, count=len(values))
        flat = chain.from_iterable(chain.from_iterable(values))
        cells = np.fromiter(flat, dtype=np.int64).reshape(-1, 3)
        self._last_cells = (values, len(values), cells, lengths)
        return cells, lengths


@METRICS.register("pixel_accuracy")
class PixelAccuracy(Metric):
    """Share of scored pixels whose predicted class is the true one.

    Needs the labels. Frame value: ``[correct, scored]`` pixel counts (scored: not labelled
    with the ignore index; a prediction outside the classes is wrong, as in
    :class:`~semlink.vision.metrics.ConfusionMeter`; counted directly, which is cheaper than a
    confusion matrix per frame). Frames combine as
    weighted sums of both counts: ``pixel_accuracy = sum(w * correct) / sum(w * scored)``
    (NaN when nothing was scored). Column: ``pixel_accuracy``.
    """

    name: ClassVar[str] = "pixel_accuracy"
    needs: ClassVar[frozenset[str]] = frozenset({"labels"})

    def frame(self, sample: FrameSample) -> list[int]:
        """``[correct, scored]`` pixels of the frame."""
        scored = sample.labels != self.label_set.ignore_index
        correct = scored & (sample.prediction == sample.labels)
        return [int(correct.sum()), int(scored.sum())]

    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """Weighted correct over weighted scored pixels."""
        w = check_weights(values, weights)
        counts = np.asarray(values, dtype=np.float64).reshape(-1, 2)
        correct, scored = float(w @ counts[:, 0]), float(w @ counts[:, 1])
        return {"pixel_accuracy": correct / scored if scored > 0 else math.nan}


@METRICS.register("map_consistency")
class MapConsistency(MeanIoU):
    """Whether the reconstruction shows the scene the map said: mIoU of the segmenter's labels of
    the reconstruction against the sent map (the segmenter's labels of the original frame, what
    a semantic codec transmits), with each class's IoU.

    Needs the sent map, not the ground truth, so it also scores frames without labels. Where a
    semantic codec's map arrives whole at ``map_scale`` 1 the sent map is the received one; a
    coarser ``map_scale`` or lost strips count against the codec. Frame value and combination as
    :class:`MeanIoU` (the sent map in the place of the truth). Columns: ``map_consistency``, then
    ``map_consistency_<class>`` for every class of the label set (NaN for a class absent from both).
    """

    name: ClassVar[str] = "map_consistency"
    needs: ClassVar[frozenset[str]] = frozenset({"map"})

    def columns(self) -> tuple[str, ...]:
        """``map_consistency``, then ``map_consistency_<class>`` in label-set order."""
        return ("map_consistency", *(f"map_consistency_{name}" for name in self.label_set.classes))

    def frame(self, sample: FrameSample) -> list[list[int]]:
        """Nonzero confusion cells ``[sent class, predicted class, count]``, row-major.

        :raises ValueError: if the sample carries no sent map.
        """
        if sample.sent_map is None:
            raise ValueError("map_consistency needs the sent map; the evaluator gives it to metrics that need map")
        matrix = frame_confusion(self.label_set, sample.sent_map, sample.prediction)
        truth, pred = np.nonzero(matrix)
        return [[int(t), int(p), int(matrix[t, p])] for t, p in zip(truth, pred, strict=True)]
