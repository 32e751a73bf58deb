"""Task and image metrics: mIoU from a dataset-wide confusion matrix, PSNR and MS-SSIM."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytorch_msssim
import torch
from torchmetrics.classification import MulticlassConfusionMatrix
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from semlink.data.labelset import LabelSet


@dataclass(frozen=True)
class SegmentationScores:
    """Scores of a whole evaluation set.

    :param miou: mean IoU over the classes present in truth or prediction.
    :param class_iou: IoU per class of the label set, NaN where a class never occurs.
    :param pixel_accuracy: correct / scored pixels.
    """

    miou: float
    class_iou: tuple[float, ...]
    pixel_accuracy: float


class ConfusionMeter:
    """Accumulates one confusion matrix over a whole dataset (Cityscapes convention).

    Pixels whose truth is the label set's ignore index are not scored. A prediction outside
    the label set's classes counts as wrong for its true class.

    :param label_set: the classes being scored.
    """

    def __init__(self, label_set: LabelSet) -> None:
        self.label_set = label_set
        self._metric = MulticlassConfusionMatrix(num_classes=label_set.num_classes, ignore_index=label_set.ignore_index)
        self._matrix = torch.zeros(label_set.num_classes, label_set.num_classes, dtype=torch.long)

    def update(self, prediction: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor) -> None:
        """Add label maps of any matching shape (``[H, W]`` or ``[N, H, W]``)."""
        pred = torch.as_tensor(prediction).long().flatten()
        true = torch.as_tensor(truth).long().flatten()
        if pred.shape != true.shape:
            raise ValueError(f"prediction has {pred.numel()} pixels, truth {true.numel()}")
        scored = true != self.label_set.ignore_index
        pred, true = pred[scored], true[scored]
        # A prediction outside the classes is wrong: send it to a class other than the truth.
        invalid = (pred < 0) | (pred >= self.label_set.num_classes)
        pred = torch.where(invalid, (true + 1) % self.label_set.num_classes, pred)
        self._matrix += self._metric(pred, true)

    @property
    def matrix(self) -> torch.Tensor:
        """``[C, C]`` counts, rows = truth, columns = prediction."""
        return self._matrix.clone()

    def scores(self) -> SegmentationScores:
        """mIoU, per-class IoU and pixel accuracy of everything added so far."""
        return scores_from_confusion(self._matrix)


def scores_from_confusion(matrix: torch.Tensor) -> SegmentationScores:
    """Scores of a ``[C, C]`` confusion matrix (rows truth, columns prediction).

    A class absent from both truth and prediction gets IoU NaN and is left out of the mean.
    """
    m = matrix.double()
    true_positive = m.diag()
    union = m.sum(0) + m.sum(1) - true_positive
    iou = torch.where(union > 0, true_positive / union.clamp(min=1), torch.nan)
    present = ~torch.isnan(iou)
    miou = float(iou[present].mean()) if present.any() else float("nan")
    total = float(m.sum())
    accuracy = float(true_positive.sum()) / total if total > 0 else float("nan")
    return SegmentationScores(miou=miou, class_iou=tuple(float(v) for v in iou), pixel_accuracy=accuracy)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB of two uint8 images of the same shape (inf if identical)."""
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


MS_SSIM_MIN_SIDE = 161  # five scales of an 11-pixel window need this many pixels


def ms_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM (5 scales, 11-pixel Gaussian window) of two ``[H, W, 3]`` uint8 images.

    pytorch-msssim (the faster of the two libraries on the CPU) for frames of at least
    161 pixels a side; torchmetrics with fewer scales for smaller frames.
    """
    ref = torch.from_numpy(np.array(reference)).permute(2, 0, 1)[None].float()
    out = torch.from_numpy(np.array(test)).permute(2, 0, 1)[None].float()
    if min(ref.shape[-2:]) >= MS_SSIM_MIN_SIDE:
        return float(pytorch_msssim.ms_ssim(out, ref, data_range=255.0))
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    scales = 5
    while scales > 1 and min(ref.shape[-2:]) // 2 ** (scales - 1) <= 10:
        scales -= 1
    value = multiscale_structural_similarity_index_measure(
        out / 255.0, ref / 255.0, data_range=1.0, betas=weights[:scales], normalize="relu"
    )
    return float(value)
