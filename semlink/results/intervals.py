"""95 % intervals of a point's metrics: a two-stage bootstrap over repeats and frames.

Each resample draws the point's channel realisations (repeats) with replacement, then, within each
drawn realisation, as many of its frames with replacement as it has; a metric is recomputed from
the resampled frames' values (its ``result`` takes frame multiplicities as weights, so a
dataset-wide mIoU is recomputed from the resampled frames' confusion matrices, not averaged), and
the interval is the 2.5th and 97.5th percentile of the resampled results (percentile bootstrap).
With one realisation only frames are resampled. The resampling stream is fixed by the run's seed
and the point's key, so the same run gives the same intervals.

Written here because the two-stage scheme and the metrics' own weighted results are what the
intervals must follow; SciPy's ``bootstrap`` resamples one flat sample with a vectorised statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from semlink.metrics.base import Metric

RESAMPLES = 1000
LEVEL = 0.95


def resample_weights(frames_per_repeat: Sequence[int], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``[resamples, N]`` frame multiplicities of the two-stage bootstrap (``N`` = all frames, repeat by repeat).

    :param frames_per_repeat: how many frames each realisation has, in order.
    """
    sizes = np.asarray(frames_per_repeat, dtype=np.int64)
    repeats = len(sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    weights = np.zeros((resamples, int(offsets[-1])), dtype=np.float64)
    for b in range(resamples):
        drawn = np.bincount(rng.integers(0, repeats, size=repeats), minlength=repeats) if repeats > 1 else [1]
        for r, times in enumerate(drawn):
            if times == 0 or sizes[r] == 0:
                continue
            counts = rng.multinomial(int(times * sizes[r]), np.full(int(sizes[r]), 1.0 / sizes[r]))
            weights[b, offsets[r] : offsets[r + 1]] = counts
    return weights


def estimate_with_intervals(
    metrics: Sequence[Metric],
    values: dict[str, list[Any]],
    frames_per_repeat: Sequence[int],
    rng: np.random.Generator,
    resamples: int = RESAMPLES,
) -> dict[str, tuple[float, float, float]]:
    """Column -> ``(estimate, low, high)`` for every column of every metric.

    :param values: metric name -> per-frame values of all realisations, repeat by repeat.
    """
    total = int(sum(frames_per_repeat))
    ones = np.ones(total)
    weights = resample_weights(frames_per_repeat, resamples, rng) if total else np.zeros((0, 0))
    out: dict[str, tuple[float, float, float]] = {}
    tail = 100.0 * (1.0 - LEVEL) / 2.0
    for metric in metrics:
        frame_values = values.get(metric.name, [])
        estimate = metric.result(frame_values, ones)
        draws: dict[str, list[float]] = {column: [] for column in estimate}
        for row in weights:
            for column, value in metric.result(frame_values, row).items():
                draws[column].append(value)
        for column, value in estimate.items():
            low, high = percentile_interval(np.asarray(draws[column], dtype=np.float64), tail)
            out[column] = (float(value), low, high)
    return out


def percentile_interval(draws: np.ndarray, tail: float) -> tuple[float, float]:
    """The ``tail`` and ``100 - tail`` percentiles of the finite-or-infinite draws (NaN: none)."""
    kept = draws[~np.isnan(draws)]
    if kept.size == 0:
        return float("nan"), float("nan")
    if np.isinf(kept).all():
        return float(kept[0]), float(kept[0])
    finite = np.where(np.isposinf(kept), np.finfo(np.float64).max, kept)
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return _back(low), _back(high)


def _back(value: float) -> float:
    return float("inf") if value >= np.finfo(np.float64).max else float(value)
