"""mIoU from the confusion matrix on hand-made cases; PSNR and MS-SSIM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semlink.data.labelset import LabelSet
from semlink.vision.metrics import ConfusionMeter, ms_ssim, psnr

THREE = LabelSet("three", ("a", "b", "c"), ((0, 0, 0), (1, 1, 1), (2, 2, 2)))


def scores(pred: list[list[int]], true: list[list[int]]):  # type: ignore[no-untyped-def]
    meter = ConfusionMeter(THREE)
    meter.update(np.array(pred, dtype=np.uint8), np.array(true, dtype=np.uint8))
    return meter.scores()


def test_perfect_prediction() -> None:
    result = scores([[0, 1, 2]], [[0, 1, 2]])
    assert result.miou == 1.0 and result.pixel_accuracy == 1.0


def test_class_absent_from_truth_and_prediction_is_left_out() -> None:
    result = scores([[0, 0, 1, 1]], [[0, 0, 1, 1]])
    assert math.isnan(result.class_iou[2])
    assert result.miou == 1.0


def test_ignored_pixels_do_not_count_whatever_is_predicted() -> None:
    result = scores([[0, 1, 2, 2]], [[0, 1, 255, 255]])
    assert result.miou == 1.0
    assert math.isnan(result.class_iou[2])


def test_class_predicted_but_never_true_scores_zero() -> None:
    result = scores([[0, 2, 1, 1]], [[0, 0, 1, 1]])
    # a: tp 1, union 2 -> 0.5; b: 1.0; c: tp 0, union 1 -> 0 and counted in the mean.
    assert result.class_iou == pytest.approx((0.5, 1.0, 0.0))
    assert result.miou == pytest.approx(0.5)
    assert result.pixel_accuracy == pytest.approx(0.75)


def test_confusion_is_dataset_wide_not_a_mean_of_frames() -> None:
    meter = ConfusionMeter(THREE)
    meter.update(np.array([[0, 0, 0, 0]]), np.array([[0, 0, 0, 1]]))  # frame 1
    meter.update(np.array([[1]]), np.array([[1]]))  # frame 2
    result = meter.scores()
    # a: tp 3, union 4 -> 0.75; b: tp 1, union 2 -> 0.5; per-frame means would differ.
    assert result.class_iou[:2] == pytest.approx((0.75, 0.5))
    assert result.miou == pytest.approx(0.625)


def test_prediction_outside_the_classes_counts_as_wrong() -> None:
    result = scores([[0, 7]], [[0, 1]])
    assert result.class_iou[1] == 0.0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="pixels"):
        scores([[0, 1]], [[0, 1, 2]])


@pytest.mark.parametrize("shape", [(64, 96, 3), (192, 256, 3)])
def test_psnr_and_ms_ssim(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    assert psnr(image, image) == math.inf
    shifted = np.clip(image.astype(int) + 4, 0, 255).astype(np.uint8)
    mse = ((image.astype(float) - shifted) ** 2).mean()
    assert psnr(image, shifted) == pytest.approx(10 * math.log10(255**2 / mse))
    assert ms_ssim(image, image) == pytest.approx(1.0)
    assert ms_ssim(image, np.full_like(image, 128)) < 0.5
