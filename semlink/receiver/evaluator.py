"""Scoring reconstructions: segment them in batches and accumulate mIoU, PSNR and MS-SSIM."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from semlink.data.frame import Frame
from semlink.data.labelset import LabelSet
from semlink.vision.metrics import ConfusionMeter, ms_ssim, psnr
from semlink.vision.segmenter import Segmenter


@dataclass(frozen=True)
class Scores:
    """Scores of a set of reconstructed frames.

    :param frames: frames scored. :param miou: dataset-wide mIoU.
    :param pixel_accuracy: dataset-wide pixel accuracy. :param psnr: mean PSNR (dB; inf if all exact).
    :param ms_ssim: mean MS-SSIM. :param class_iou: IoU per class (NaN: class absent).
    :param frame_psnr: PSNR of each frame in the order added.
    """

    frames: int
    miou: float
    pixel_accuracy: float
    psnr: float
    ms_ssim: float
    class_iou: tuple[float, ...]
    frame_psnr: tuple[float, ...]


class Evaluator:
    """Collects ``(frame, reconstruction)`` pairs, segments them in batches, scores them.

    Batches are cut by count only, so the same frames give the same batches (and the same
    numbers) whichever transport delivered them.

    :param segmenter: labels the reconstructions.
    :param label_set: the frames' classes (must match the segmenter's).
    :param batch: reconstructions segmented together.
    """

    def __init__(self, segmenter: Segmenter, label_set: LabelSet, batch: int = 8) -> None:
        if segmenter.label_set != label_set:
            raise ValueError(
                f"segmenter predicts {segmenter.label_set.name} classes but the frames use "
                f"{label_set.name}; choose a segmenter for {label_set.name}"
            )
        self.segmenter, self.batch = segmenter, batch
        self.meter = ConfusionMeter(label_set)
        self._labels: list[np.ndarray] = []
        self._recons: list[np.ndarray] = []
        self.psnrs: list[float] = []
        self.ssims: list[float] = []

    def add(self, frame: Frame, recon: np.ndarray) -> None:
        """Score ``recon`` against ``frame`` (image metrics now, segmentation per batch)."""
        self.psnrs.append(psnr(frame.image, recon))
        self.ssims.append(ms_ssim(frame.image, recon))
        self._labels.append(frame.labels)
        self._recons.append(recon)
        if len(self._recons) >= self.batch:
            self._segment()

    def _segment(self) -> None:
        if not self._recons:
            return
        predictions = self.segmenter.segment(np.stack(self._recons))
        self.meter.update(predictions, np.stack(self._labels))
        self._labels, self._recons = [], []

    def scores(self) -> Scores:
        """Finish pending batches and return the scores so far."""
        self._segment()
        seg = self.meter.scores()
        return Scores(
            len(self.psnrs),
            seg.miou,
            seg.pixel_accuracy,
            mean_psnr(self.psnrs),
            float(np.mean(self.ssims)) if self.ssims else math.nan,
            seg.class_iou,
            tuple(self.psnrs),
        )


EXACT_PSNR_DB = 100.0


def mean_psnr(values: list[float]) -> float:
    """Mean PSNR; inf when every frame is exact, exact frames counted as 100 dB otherwise."""
    if not values:
        return math.nan
    if all(math.isinf(v) for v in values):
        return math.inf
    return float(np.mean([min(v, EXACT_PSNR_DB) for v in values]))
