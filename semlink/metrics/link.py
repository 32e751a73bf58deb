"""Link metrics: frame latency percentiles and delivery counts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from semlink.metrics.base import METRICS, FrameSample, Metric, check_weights


def integer_counts(weights: np.ndarray) -> np.ndarray:
    """``[N]`` float weights as int64 counts.

    :raises ValueError: if a weight is not a whole number.
    """
    counts = np.rint(weights)
    if not np.array_equal(counts, weights):
        raise ValueError("latency percentiles need whole-number frame weights (counts)")
    return counts.astype(np.int64)


@METRICS.register("latency")
class Latency(Metric):
    """Median and 95th percentile of the frames' capture-to-decode latency (ms).

    Needs the timing. Frame value: the frame's latency in ms, None when it has none
    (concealed, or not timed). Frames combine by repeating each timed frame as many times as
    its weight (weights must be whole counts) and taking percentiles of the result (numpy's
    linear interpolation). Columns: ``latency_ms_p50``, ``latency_ms_p95`` (NaN with no timed
    frame).
    """

    name: ClassVar[str] = "latency"
    needs: ClassVar[frozenset[str]] = frozenset({"timing"})

    def columns(self) -> tuple[str, ...]:
        """``latency_ms_p50``, ``latency_ms_p95``."""
        return ("latency_ms_p50", "latency_ms_p95")

    def frame(self, sample: FrameSample) -> float | None:
        """Latency in ms, or None."""
        return None if sample.latency_ms is None else float(sample.latency_ms)

    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """Weighted p50 and p95 of the timed frames."""
        counts = integer_counts(check_weights(values, weights))
        timed = [i for i, v in enumerate(values) if v is not None]
        latencies = np.repeat(np.array([values[i] for i in timed], dtype=np.float64), counts[timed])
        if latencies.size == 0:
            return dict.fromkeys(self.columns(), math.nan)
        p50, p95 = np.percentile(latencies, [50.0, 95.0])
        return {"latency_ms_p50": float(p50), "latency_ms_p95": float(p95)}


@METRICS.register("delivery")
class Delivery(Metric):
    """How many frames arrived complete and how many were concealed.

    Needs the timing (the receiver's per-frame counters). Frame value: ``[complete,
    concealed]`` as 0/1. Frames combine as weighted sums (a bootstrap resample's counts are
    sums over its repeats; dividing by the number of repeats is the caller's business).
    Columns: ``frames_complete``, ``frames_concealed``.
    """

    name: ClassVar[str] = "delivery"
    needs: ClassVar[frozenset[str]] = frozenset({"timing"})

    sums = True

    def columns(self) -> tuple[str, ...]:
        """``frames_complete``, ``frames_concealed``."""
        return ("frames_complete", "frames_concealed")

    def frame(self, sample: FrameSample) -> list[int]:
        """``[complete, concealed]`` as 0/1."""
        return [int(sample.complete), int(sample.concealed)]

    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """Weighted counts of complete and of concealed frames."""
        w = check_weights(values, weights)
        flags = np.asarray(values, dtype=np.float64).reshape(-1, 2)
        return {"frames_complete": float(w @ flags[:, 0]), "frames_concealed": float(w @ flags[:, 1])}
