"""Results of points with vehicles: the cell's columns of ``results.csv`` and ``vehicles.csv``.

A point with ``U`` vehicles and ``R`` realisations has ``U x R`` reports (one per vehicle and
realisation). Its ``results.csv`` row pools every vehicle's frames for the metrics (one confusion
matrix for the cell's ``miou``) and adds:

- ``miou_mean``: the mean over vehicles of each vehicle's own mIoU (its frames, all realisations);
- ``miou_p5``: the 5th percentile of the vehicles' mIoU (linear interpolation; with fewer than
  20 vehicles it lies between the worst two);
- ``jain``: Jain's fairness index of the vehicles' mIoU, ``(sum x)^2 / (U sum x^2)`` (1: all equal);
- each with a 95 % interval from a two-stage bootstrap: vehicles drawn with replacement, then
  each drawn vehicle's frames (the realisations' frames pooled);
- ``utilisation``: the carrier's resource blocks in use over those available while any vehicle
  had data (mean over realisations; empty without a shared cell);
- ``throughput_mbps``: bits of the packets that decoded in time, all vehicles, over the drive's
  length (empty without a shared cell);
- ``in_time``: the share of frames whose every packet arrived by the deadline.

``vehicles.csv`` has one row per point and vehicle: its mean distance and large-scale SNR, bits
per pixel (payload and on the wire), its mIoU with a 95 % interval (bootstrap over its frames),
frames complete in time and concealed (nothing arrived), packets late and lost (means per
realisation) and its share of the cell's airtime.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semlink.metrics.base import Metric
from semlink.receiver.node import PointReport
from semlink.results.intervals import LEVEL, RESAMPLES, percentile_interval

CELL_COLUMNS = (
    "miou_mean",
    "miou_mean_lo",
    "miou_mean_hi",
    "miou_p5",
    "miou_p5_lo",
    "miou_p5_hi",
    "jain",
    "jain_lo",
    "jain_hi",
    "utilisation",
    "throughput_mbps",
    "in_time",
)
"""The columns a point with vehicles adds to ``results.csv`` (see the module docstring)."""
VEHICLE_COLUMNS = (
    "vehicle",
    "distance_m",
    "snr_db",
    "x_m",
    "y_m",
    "bpp",
    "bpp_wire",
    "miou",
    "miou_lo",
    "miou_hi",
    "frames",
    "frames_in_time",
    "frames_concealed",
    "packets_late",
    "packets_lost",
    "airtime_share",
)
"""The columns of ``vehicles.csv`` after the point's key, codec and axes."""
TASK_METRIC = "miou"
"""The metric whose per-vehicle values the cell's columns summarise."""


def text(value: float, digits: int = 4) -> str:
    """A cell: empty for NaN."""
    return "" if math.isnan(value) else f"{value:.{digits}f}"


def by_vehicle(reports: Sequence[PointReport], vehicles: int) -> list[list[PointReport]]:
    """Reports in realisation-then-vehicle order -> each vehicle's reports over the realisations."""
    return [list(reports[v::vehicles]) for v in range(vehicles)]


def summaries(scores: np.ndarray) -> tuple[float, float, float]:
    """``(mean, 5th percentile, Jain's index)`` of per-vehicle scores."""
    if scores.size == 0 or np.isnan(scores).all():
        return math.nan, math.nan, math.nan
    kept = scores[~np.isnan(scores)]
    square = float((kept**2).sum())
    jain = float(kept.sum() ** 2 / (kept.size * square)) if square > 0 else 1.0
    return float(kept.mean()), float(np.percentile(kept, 5)), jain


POOL = 200
"""Frame resamples of each vehicle's score, drawn once: the bootstrap of the cell's summaries takes
a random one of them for each vehicle it draws (the second stage), so a point with ``U`` vehicles
costs ``U x POOL`` metric evaluations rather than ``U x RESAMPLES``."""


class VehicleScores:
    """Each vehicle's task metric and the bootstrap of the cell's summaries.

    :param metric: the task metric (``miou``). :param groups: each vehicle's reports.
    :param rng: the bootstrap's stream.
    """

    def __init__(self, metric: Metric, groups: list[list[PointReport]], rng: np.random.Generator) -> None:
        self.metric, self.rng = metric, rng
        self.values = [[v for r in group for v in r.values.get(metric.name, [])] for group in groups]
        self.scores = np.array([self.score(values, np.ones(len(values))) for values in self.values])
        self.pool = np.array([[self.resampled(values) for _ in range(POOL)] for values in self.values]).reshape(
            -1, POOL
        )

    def score(self, values: list[Any], weights: np.ndarray) -> float:
        """The metric of one vehicle's frames under frame multiplicities ``weights``."""
        if not values:
            return math.nan
        return float(self.metric.result(values, weights).get(self.metric.name, math.nan))

    def resampled(self, values: list[Any]) -> float:
        """The score of one resample of a vehicle's frames (with replacement)."""
        if not values:
            return math.nan
        return self.score(values, self.rng.multinomial(len(values), np.full(len(values), 1 / len(values))))

    def vehicle_interval(self, vehicle: int) -> tuple[float, float]:
        """A 95 % interval of one vehicle's score (its frames resampled)."""
        return percentile_interval(self.pool[vehicle], 100.0 * (1.0 - LEVEL) / 2.0)

    def summary_intervals(self, resamples: int = RESAMPLES) -> list[tuple[float, float, float]]:
        """``[(estimate, low, high)]`` of the mean, the 5th percentile and Jain's index."""
        count = len(self.values)
        drawn = self.rng.integers(0, count, size=(resamples, count))
        picks = self.rng.integers(0, POOL, size=(resamples, count))
        table = np.array([summaries(self.pool[drawn[b], picks[b]]) for b in range(resamples)]).reshape(-1, 3)
        tail = 100.0 * (1.0 - LEVEL) / 2.0
        estimates = summaries(self.scores)
        return [(estimates[i], *percentile_interval(table[:, i], tail)) for i in range(3)]


def frames_in_time(report: PointReport) -> int:
    """Frames of a report whose every packet arrived in time."""
    return sum(1 for record in report.frames if record.complete)


def vehicle_scores(
    reports: Sequence[PointReport], vehicles: int, metrics: Sequence[Metric], rng: np.random.Generator
) -> VehicleScores | None:
    """The vehicles' task scores of a point (None without the task metric), for both of
    :func:`cell_columns` and :func:`vehicle_rows`. :param reports: realisation-then-vehicle order."""
    metric = next((m for m in metrics if m.name == TASK_METRIC), None)
    return None if metric is None else VehicleScores(metric, by_vehicle(reports, vehicles), rng)


def cell_columns(
    reports: Sequence[PointReport], vehicles: int, scores: VehicleScores | None, frame_s: float
) -> dict[str, str]:
    """The :data:`CELL_COLUMNS` of a point (see the module docstring).

    :param reports: realisation-then-vehicle order. :param scores: :func:`vehicle_scores`.
    :param frame_s: a drive's length.
    """
    out = dict.fromkeys(CELL_COLUMNS, "")
    if scores is not None:
        for name, (estimate, low, high) in zip(
            ("miou_mean", "miou_p5", "jain"), scores.summary_intervals(), strict=True
        ):
            out[name], out[f"{name}_lo"], out[f"{name}_hi"] = text(estimate), text(low), text(high)
    radios = [r.sent.channel for r in reports]
    realisations = max(len(reports) // max(vehicles, 1), 1)
    if any("cell_utilisation" in radio for radio in radios):
        out["utilisation"] = text(float(np.mean([float(x.get("cell_utilisation", 0.0)) for x in radios])))
        bits = sum(float(x.get("cell_delivered_bits", 0.0)) for x in radios) / realisations
        out["throughput_mbps"] = text(bits / max(frame_s, 1e-9) / 1e6, 3)
    frames = sum(len(r.frames) for r in reports)
    out["in_time"] = text(sum(frames_in_time(r) for r in reports) / frames if frames else math.nan)
    return out


def vehicle_rows(
    reports: Sequence[PointReport], vehicles: int, scores: VehicleScores | None, pixels: int
) -> list[dict[str, str]]:
    """One :data:`VEHICLE_COLUMNS` row per vehicle of a point (see the module docstring)."""
    groups = by_vehicle(reports, vehicles)
    rows = []
    for vehicle, group in enumerate(groups):
        count = max(len(group), 1)
        radios = [r.sent.channel for r in group]
        frames = sum(len(r.frames) for r in group)
        size = max(frames * pixels, 1)
        sent = sum(r.sent.packets_sent for r in group)
        received = sum(f.packets_received for r in group for f in r.frames)
        low, high = scores.vehicle_interval(vehicle) if scores is not None else (math.nan, math.nan)

        def mean_of(key: str, radios: list[dict[str, float]] = radios) -> float:
            return (
                float(np.mean([float(x[key]) for x in radios]))
                if radios and all(key in x for x in radios)
                else math.nan
            )

        rows.append(
            {
                "vehicle": str(vehicle),
                "distance_m": text(mean_of("cell_distance_m"), 1),
                "snr_db": text(mean_of("cell_snr_db"), 2),
                "x_m": text(mean_of("cell_x_m"), 1),
                "y_m": text(mean_of("cell_y_m"), 1),
                "bpp": text(sum(r.sent.payload_bits for r in group) / size, 5),
                "bpp_wire": text(sum(r.sent.wire_bits for r in group) / size, 5),
                "miou": text(float(scores.scores[vehicle])) if scores is not None else "",
                "miou_lo": text(low),
                "miou_hi": text(high),
                "frames": str(frames // count),
                "frames_in_time": text(sum(frames_in_time(r) for r in group) / count, 2),
                "frames_concealed": text(sum(1 for r in group for f in r.frames if f.concealed) / count, 2),
                "packets_late": text(sum(int(r.counters.get("late", 0)) for r in group) / count, 2),
                "packets_lost": text(max(0, sent - received) / count, 2),
                "airtime_share": text(mean_of("cell_airtime_share")),
            }
        )
    return rows


def drop_orphan_rows(
    path: Path, kept: set[str], key_of: Callable[[str], str], replace: Callable[[Path, str], None]
) -> int:
    """Drop ``vehicles.csv`` rows of points without a ``results.csv`` row (a run killed between
    the two); returns the bytes dropped. ``key_of`` reads a stored key; ``replace`` writes atomically."""
    if not path.exists():
        return 0
    text = path.read_text()
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return 0
    header, body = rows[0], rows[1:]
    column = header.index("point_key") if "point_key" in header else 0
    good = [row for row in body if row and key_of(row[column]) in kept]
    if len(good) == len(body):
        return 0
    out = io.StringIO()
    csv.writer(out).writerows([header, *good])
    replace(path, out.getvalue())
    return len(text) - len(out.getvalue())
