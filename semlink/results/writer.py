"""Results of a run: ``results.csv`` (a row per point, appended and flushed) and ``frames.jsonl``.

A row's columns, in order: ``codec``; one column per axis that varies (:func:`semlink.scenario.sweep.column_name`);
``channel`` and ``channel_params`` (the whole channel setting as words); ``seed``, ``repeats``,
``frames``; each metric's columns, each followed by its 95 % interval (``miou``, ``miou_lo``,
``miou_hi``, ...; see :mod:`semlink.results.intervals`); then the counters (bits and packets, per
realisation); and last ``point_key`` (a short hash; the point's full description is in ``points.jsonl``, see
:mod:`semlink.results.keys`). A point's row is written once all its realisations are in.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semlink.metrics.base import Metric
from semlink.receiver.node import PointReport
from semlink.results.intervals import estimate_with_intervals
from semlink.results.keys import KEY_COLUMN, replace_text, row_key, stored_key, upgrade_legacy_keys
from semlink.results.vehicles import (
    CELL_COLUMNS,
    VEHICLE_COLUMNS,
    VehicleScores,
    cell_columns,
    drop_orphan_rows,
    vehicle_rows,
    vehicle_scores,
)
from semlink.scenario.schema import Scenario
from semlink.scenario.sweep import Point, column_name, varying_axes
from semlink.study.trials import STREAM_BOOTSTRAP, frame_interval_us, trial_of, vehicle_stride

COUNTERS = (
    "bpp",
    "bpp_wire",
    "packets_sent",
    "packets_lost",
    "mcs",
    "harq_tx_mean",
    "airtime_ms",
    "deadline_misses",
    "rejected",
    "rejected_by",
)
"""Columns counted rather than scored: payload and wire bits per pixel, packets (means per realisation),
the radio's mean MCS, transmissions per packet and airtime per frame, late packets, and the messages
the channel and the receiver turned away since the previous point ended (malformed, another run's, ...;
a total over its realisations, with the reasons): a row with ``rejected`` above 0 saw foreign or
malformed traffic, which never changes its other columns."""


class ResultsError(ValueError):
    """A results folder that this run cannot write to (its columns differ, it is a file)."""


def channel_params(point: Point) -> str:
    """The point's channel and impairment parameters as ``key=value`` words, sorted."""
    merged = {**point.params, **point.impairments}
    return " ".join(
        f"{key}={merged[key]:g}" if isinstance(merged[key], float) else f"{key}={merged[key]}" for key in sorted(merged)
    )


def number(value: float, digits: int) -> str:
    """A CSV number (empty for NaN)."""
    return "" if math.isnan(value) else f"{value:.{digits}f}"


def cell_text(value: Any) -> str:
    """An axis value as a CSV cell: numbers as ``%g``, sizes as ``HxW``, the rest as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True)
    return str(value)


def metric_columns(metrics: Sequence[Metric]) -> list[str]:
    """Every metric column followed by its interval's ``_lo`` and ``_hi``."""
    return [name for m in metrics for column in m.columns() for name in (column, f"{column}_lo", f"{column}_hi")]


class ResultsWriter:
    """Appends one row per finished point to ``results.csv`` and its frames to ``frames.jsonl``.

    :param folder: the run's output folder.
    :param scenario: the resolved scenario (seed, data size, repeats).
    :param points: the sweep (to label rows).
    :param metrics: the run's metrics (their columns, their per-point results).
    """

    def __init__(self, folder: Path, scenario: Scenario, points: list[Point], metrics: Sequence[Metric]) -> None:
        self.folder, self.scenario, self.metrics = folder, scenario, list(metrics)
        self.points = {p.index: p for p in points}
        self.repeats = scenario.repeat_count
        self.stride = vehicle_stride(points)
        self.axes = [a for a in varying_axes(points) if a != "codec"]
        self.vehicles = scenario.vehicles is not None
        if self.vehicles and "vehicles.count" not in self.axes:
            self.axes.insert(0, "vehicles.count")
        self.columns = [
            "codec",
            *(column_name(a) for a in self.axes),
            "channel",
            "channel_params",
            "seed",
            "repeats",
            "frames",
            *metric_columns(self.metrics),
            *(CELL_COLUMNS if self.vehicles else ()),
            *COUNTERS,
            KEY_COLUMN,
        ]
        self.vehicle_columns = [KEY_COLUMN, "codec", *(column_name(a) for a in self.axes), *VEHICLE_COLUMNS]
        if folder.exists() and not folder.is_dir():
            raise ResultsError(f"output folder {folder} is a file; choose another --out")
        folder.mkdir(parents=True, exist_ok=True)
        self.csv_path, self.frames_path = folder / "results.csv", folder / "frames.jsonl"
        self.vehicles_path = folder / "vehicles.csv"
        self.repaired = drop_torn_tail(self.csv_path) + drop_torn_tail(self.frames_path)
        self.repaired += drop_torn_tail(self.vehicles_path)
        upgrade_legacy_keys(self.csv_path, self.frames_path)
        self._check_header()
        self.repaired += self._drop_orphan_frames()
        self.repaired += drop_orphan_rows(self.vehicles_path, self.stored_row_keys(), stored_key, replace_text)
        self._waiting: dict[int, dict[tuple[int, int], PointReport]] = {}

    def _check_header(self) -> None:
        if not self.csv_path.exists():
            return
        with self.csv_path.open(newline="") as handle:
            header = next(csv.reader(handle), None)
        if header is None or header == self.columns:
            return
        missing = [c for c in self.columns if c not in header and not c.endswith(("_lo", "_hi"))]
        extra = [c for c in header if c not in self.columns and not c.endswith(("_lo", "_hi"))]
        detail = "; ".join(
            part
            for part in (
                f"this scenario adds {', '.join(missing[:6])}" if missing else "",
                f"the folder has {', '.join(extra[:6])}" if extra else "",
            )
            if part
        )
        raise ResultsError(
            f"{self.csv_path} has other columns than this scenario writes ({detail or 'in another order'}); "
            "choose a new --out, or run with the metrics and axes that folder was made with"
        )

    def write(self, report: PointReport) -> dict[str, str] | None:
        """Take one realisation's (and vehicle's) report; once a point has all of them, append its
        row, frames (and vehicles) and return the row (None while reports are missing)."""
        point_index, repeat, vehicle = trial_of(report.index, self.repeats, self.stride)
        waiting = self._waiting.setdefault(point_index, {})
        waiting[(repeat, vehicle)] = report
        point = self.points[point_index]
        each = max(point.vehicles, 1)
        if len(waiting) < self.repeats * each:
            return None
        reports = [waiting[(r, v)] for r in range(self.repeats) for v in range(each)]
        del self._waiting[point_index]
        scores = vehicle_scores(reports, each, self.metrics, self.bootstrap_rng(point, 1)) if self.vehicles else None
        row = self.row(point, reports, scores)
        lines = "".join(json.dumps(line) + "\n" for line in self.frame_lines(point, reports))
        append_durably(self.frames_path, lines)  # frames first: a row is only ever written after them
        if self.vehicles:
            rows = vehicle_rows(reports, each, scores, self.pixels(point))
            head = {KEY_COLUMN: row[KEY_COLUMN], "codec": point.codec} | {
                c: row[c] for c in self.vehicle_columns[2 : -len(VEHICLE_COLUMNS)]
            }
            append_rows(self.vehicles_path, self.vehicle_columns, [head | r for r in rows])
        append_rows(self.csv_path, self.columns, [row])
        return row

    def bootstrap_rng(self, point: Point, stream: int = 0) -> np.random.Generator:
        """The stream of a point's intervals (``stream`` 1: its vehicles')."""
        words = [self.scenario.seed, STREAM_BOOTSTRAP, point.key_id] + ([stream] if stream else [])
        return np.random.default_rng(np.random.SeedSequence(words))

    def _drop_orphan_frames(self) -> int:
        """Drop ``frames.jsonl`` lines of points that have no row (a run killed between a point's
        frames and its row); returns the bytes dropped. Lines without a ``point_key`` (written
        before it existed) are kept."""
        if not self.frames_path.exists():
            return 0
        rows = self.stored_row_keys()
        kept, dropped = [], 0
        with self.frames_path.open() as handle:
            for line in handle:
                try:
                    key = json.loads(line).get("point_key")
                except (ValueError, AttributeError):
                    key = None
                if key is not None and key not in rows:
                    dropped += len(line)
                else:
                    kept.append(line)
        if dropped:
            replace_text(self.frames_path, "".join(kept))
        return dropped

    def row(self, point: Point, reports: Sequence[PointReport], scores: VehicleScores | None = None) -> dict[str, str]:
        """The ``results.csv`` row of a point from the reports of its realisations (and, with
        vehicles, the vehicles' scores of :func:`~semlink.results.vehicles.vehicle_scores`)."""
        frames = [len(r.frames) for r in reports]
        values = {m.name: [v for r in reports for v in r.values.get(m.name, [])] for m in self.metrics}
        scored = estimate_with_intervals(self.metrics, values, frames, self.bootstrap_rng(point))
        for metric in (m for m in self.metrics if m.sums):
            for column in metric.columns():
                scored[column] = tuple(x / max(len(reports), 1) for x in scored[column])  # type: ignore[assignment]
        row = {
            "codec": point.codec,
            **{column_name(a): cell_text(self.axis_value(point, a)) for a in self.axes},
            "channel": point.channel,
            "channel_params": channel_params(point),
            "seed": str(self.scenario.seed),
            "repeats": str(self.repeats),
            "frames": str(frames[0] if frames else 0),
        }
        for column, (estimate, low, high) in scored.items():
            row[column], row[f"{column}_lo"], row[f"{column}_hi"] = (metric_text(x) for x in (estimate, low, high))
        if self.vehicles:
            drive_s = (frames[0] if frames else 0) * frame_interval_us(point.link.fps) * 1e-6
            row.update(cell_columns(reports, max(point.vehicles, 1), scores, drive_s))
        row.update(counter_columns(reports, self.pixels(point)))
        row[KEY_COLUMN] = row_key(self.scenario, point)
        return row

    def frame_lines(self, point: Point, reports: Sequence[PointReport]) -> list[dict[str, Any]]:
        """One ``frames.jsonl`` object per frame and realisation, with every metric's frame value."""
        axes = {a: self.axis_value(point, a) for a in self.axes}
        key = row_key(self.scenario, point)
        lines = []
        each = max(point.vehicles, 1)
        for position_of_report, report in enumerate(reports):
            repeat, vehicle = divmod(position_of_report, each)
            frame_bits, frame_packets = report.sent.frame_bits, report.sent.frame_packets
            frame_settings = report.sent.frame_settings
            for position, record in enumerate(report.frames):
                i = record.frame
                lines.append(
                    {
                        "point": point.index,
                        "repeat": repeat,
                        **({"vehicle": vehicle} if self.vehicles else {}),
                        "codec": point.codec,
                        "axes": axes,
                        "frame": i,
                        "bits": frame_bits[i] if i < len(frame_bits) else None,
                        "packets_sent": frame_packets[i] if i < len(frame_packets) else None,
                        "packets_received": record.packets_received,
                        "complete": record.complete,
                        "concealed": record.concealed,
                        "latency_ms": record.latency_ms,
                        "codec_settings": frame_settings[i] if i < len(frame_settings) else {},
                        "metrics": {name: values[position] for name, values in report.values.items()},
                        "point_key": key,
                    }
                )
        return lines

    def axis_value(self, point: Point, axis: str) -> Any:
        """A point's value of an axis column (``vehicles.count`` also where it is not an axis)."""
        return point.vehicles if axis == "vehicles.count" else point.axes.get(axis)

    def pixels(self, point: Point) -> int:
        """Pixels per frame of the point."""
        size = point.size or self.scenario.data.size
        if isinstance(size, tuple | list) and len(size) == 2 and isinstance(size[0], int):
            return int(size[0]) * int(size[1])
        return 1

    def stored_row_keys(self) -> set[str]:
        """The ``point_key`` cells of ``results.csv``."""
        if not self.csv_path.exists():
            return set()
        with self.csv_path.open(newline="") as handle:
            return {stored_key(row[KEY_COLUMN]) for row in csv.DictReader(handle) if row.get(KEY_COLUMN)}

    def done_keys(self) -> set[str]:
        """Keys of the points already in ``results.csv`` (with the same realisations)."""
        stored = self.stored_row_keys()
        return {p.key for p in self.points.values() if row_key(self.scenario, p) in stored}


def drop_torn_tail(path: Path) -> int:
    """Cut a file back to its last complete line (a run killed mid-write leaves a torn one);
    returns the bytes dropped."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end == len(data):
        return 0
    with path.open("r+b") as handle:
        handle.truncate(end)
    return len(data) - end


def append_rows(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Append CSV ``rows`` durably (with the header if the file is new or empty)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    if not path.exists() or path.stat().st_size == 0:
        writer.writeheader()
    writer.writerows(rows)
    append_durably(path, text.getvalue())


def append_durably(path: Path, text: str) -> None:
    """Append ``text`` in one write and flush it to disk before returning."""
    with path.open("a", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def metric_text(value: float) -> str:
    """A metric cell: 4 decimals, ``inf`` as such, empty for NaN."""
    if math.isnan(value):
        return ""
    return "inf" if math.isinf(value) else f"{value:.4f}"


def counter_columns(reports: Sequence[PointReport], pixels: int) -> dict[str, str]:
    """The counters of a point, as means over its realisations.

    ``bpp``/``bpp_wire``: payload and wire bits per pixel; ``packets_sent``/``packets_lost``;
    ``mcs`` (mean index per packet), ``harq_tx_mean`` (transmissions per packet), ``airtime_ms``
    (radio time per frame, retransmissions included) from the channel's totals, empty without a
    radio; ``deadline_misses``: packets that arrived after their frame's deadline.
    """
    count = max(len(reports), 1)
    frames = sum(len(r.frames) for r in reports)
    size = max(frames * pixels, 1)
    sent = sum(r.sent.packets_sent for r in reports)
    received = sum(f.packets_received for r in reports for f in r.frames)
    radios = [r.sent.channel for r in reports]
    packets = sum(float(radio.get("packets", 0.0)) for radio in radios)
    out = {
        "bpp": number(sum(r.sent.payload_bits for r in reports) / size, 5),
        "bpp_wire": number(sum(r.sent.wire_bits for r in reports) / size, 5),
        "packets_sent": mean_text(sent, count),
        "packets_lost": mean_text(max(0, sent - received), count),
        "mcs": "",
        "harq_tx_mean": "",
        "airtime_ms": "",
        "deadline_misses": mean_text(sum(int(r.counters.get("late", 0)) for r in reports), count),
        **rejection_columns(reports),
    }
    if packets > 0:
        out["mcs"] = number(sum(float(x.get("mcs_sum", 0.0)) for x in radios) / packets, 2)
        out["harq_tx_mean"] = number(sum(float(x.get("transmissions", 0.0)) for x in radios) / packets, 3)
        out["airtime_ms"] = number(sum(float(x.get("airtime_us", 0.0)) for x in radios) / 1000.0 / max(frames, 1), 3)
    return out


def rejection_columns(reports: Sequence[PointReport]) -> dict[str, str]:
    """``rejected`` (messages the channel dropped or the receiver rejected since the previous point ended, all
    realisations) and ``rejected_by`` (``reason=count`` words, sorted)."""
    reasons: Counter[str] = Counter()
    for report in reports:
        for name, value in report.counters.items():
            if name.startswith(("rejected:", "dropped:")):
                reasons[name] += int(value)
    words = " ".join(f"{name}={reasons[name]}" for name in sorted(reasons) if reasons[name])
    return {"rejected": str(sum(reasons.values())), "rejected_by": words}


def mean_text(total: float, count: int) -> str:
    """A total over ``count`` realisations as a per-realisation mean (an integer when exact)."""
    value = total / count
    return str(int(value)) if value == int(value) else f"{value:.2f}"
