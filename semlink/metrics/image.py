"""Image metrics: PSNR and MS-SSIM of the reconstruction against the original frame."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from semlink.metrics.base import METRICS, FrameSample, Metric, check_weights, weighted_mean
from semlink.vision.metrics import ms_ssim, psnr

EXACT_PSNR_DB = 100.0
"""PSNR an exact frame counts as in a mean over frames that are not all exact."""

MS_SSIM_SMALLEST_SIDE = 11
"""Frames with a side under this many pixels have no MS-SSIM (even one scale needs an 11-pixel window)."""


@METRICS.register("psnr")
class PSNR(Metric):
    """Peak signal-to-noise ratio (dB) of the reconstruction against the original.

    Needs the image. Frame value: the frame's PSNR in dB, None for an exact frame (infinite
    PSNR, which JSON cannot hold). Frames combine as a weighted mean: inf when every frame is
    exact, otherwise exact frames count as 100 dB (as
    :func:`semlink.receiver.evaluator.mean_psnr`). Column: ``psnr``.
    """

    name: ClassVar[str] = "psnr"
    needs: ClassVar[frozenset[str]] = frozenset({"image"})

    def frame(self, sample: FrameSample) -> float | None:
        """PSNR in dB, None if the reconstruction is exact."""
        value = psnr(sample.image, sample.recon)
        return None if math.isinf(value) else value

    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """Weighted mean PSNR (inf if all exact, NaN if no frame has weight)."""
        w = check_weights(values, weights)
        weighted = [v for v, wi in zip(values, w, strict=True) if wi > 0]
        if weighted and all(v is None for v in weighted):
            return {"psnr": math.inf}
        capped = [EXACT_PSNR_DB if v is None else min(float(v), EXACT_PSNR_DB) for v in values]
        return {"psnr": weighted_mean(capped, w)}


@METRICS.register("ms_ssim")
class MSSSIM(Metric):
    """Multi-scale structural similarity of the reconstruction against the original.

    Needs the image. Frame value: :func:`semlink.vision.metrics.ms_ssim` (five scales, fewer
    for frames under 161 pixels a side, as that function does); None for a frame under 11
    pixels a side, which has no MS-SSIM. Frames combine as the weighted mean of the frames
    that have a value (NaN if none). Column: ``ms_ssim``.
    """

    name: ClassVar[str] = "ms_ssim"
    needs: ClassVar[frozenset[str]] = frozenset({"image"})

    def frame(self, sample: FrameSample) -> float | None:
        """MS-SSIM in [0, 1], None for a frame too small to have one."""
        if min(sample.image.shape[:2]) < MS_SSIM_SMALLEST_SIDE:
            return None
        return ms_ssim(sample.image, sample.recon)

    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """Weighted mean MS-SSIM."""
        return {"ms_ssim": weighted_mean(values, weights)}
