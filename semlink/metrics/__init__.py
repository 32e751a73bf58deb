"""Metrics by name: each a class in :data:`METRICS` with its columns, a per-frame value and a per-point result.

Importing the package registers the built-in metrics: ``miou``, ``pixel_accuracy`` (task),
``psnr``, ``ms_ssim`` (image), ``latency``, ``delivery`` (link), ``lpips``, ``fid``
(perceptual, from weights the user gives). Adding a metric is one module with one
``@METRICS.register(name)`` class, imported here.
"""

from semlink.catalog import DEFAULT_METRICS
from semlink.metrics import image, link, perceptual, task
from semlink.metrics.base import (
    METRICS,
    NEEDS,
    FrameSample,
    Metric,
    build_metrics,
    check_weights,
    weighted_mean,
)

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "NEEDS",
    "FrameSample",
    "Metric",
    "build_metrics",
    "check_weights",
    "image",
    "link",
    "perceptual",
    "task",
    "weighted_mean",
]
