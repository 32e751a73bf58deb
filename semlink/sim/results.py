"""Results of a run: ``results.csv`` (a row per point, appended and flushed) and ``frames.jsonl``."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from semlink.data.labelset import LabelSet
from semlink.receiver.node import PointReport
from semlink.sim.scenario import Point, Scenario

COLUMNS = (
    "codec",
    "knob",
    "rate",
    "options",
    "channel",
    "channel_params",
    "snr_db",
    "loss",
    "seed",
    "frames",
    "bpp",
    "bpp_wire",
    "miou",
    "pixel_accuracy",
    "psnr",
    "ms_ssim",
    "packets_sent",
    "packets_lost",
    "frames_complete",
    "frames_concealed",
    "latency_ms_p50",
    "latency_ms_p95",
    "mcs",
    "harq_tx_mean",
    "airtime_ms",
    "deadline_misses",
)
KEY_COLUMN = "point_key"


def channel_params(point: Point) -> str:
    """The point's channel and impairment parameters as ``key=value`` words, sorted."""
    merged = {**point.params, **point.impairments}
    return " ".join(
        f"{key}={merged[key]:g}" if isinstance(merged[key], float) else f"{key}={merged[key]}" for key in sorted(merged)
    )


def number(value: float, digits: int) -> str:
    """A CSV number (empty for NaN)."""
    return "" if math.isnan(value) else f"{value:.{digits}f}"


def radio_columns(report: PointReport) -> dict[str, str]:
    """``mcs`` (mean index per packet), ``harq_tx_mean`` (transmissions per packet), ``airtime_ms``
    (radio time per frame, retransmissions included) from the channel's totals, empty without a radio;
    ``deadline_misses``: packets that arrived after their frame's deadline."""
    radio = report.sent.get("channel") or {}
    packets = float(radio.get("packets", 0.0)) if isinstance(radio, dict) else 0.0
    frames = max(report.scores.frames, 1)
    out = {"mcs": "", "harq_tx_mean": "", "airtime_ms": ""}
    if packets > 0:
        out = {
            "mcs": number(float(radio.get("mcs_sum", 0.0)) / packets, 2),
            "harq_tx_mean": number(float(radio.get("transmissions", 0.0)) / packets, 3),
            "airtime_ms": number(float(radio.get("airtime_us", 0.0)) / 1000.0 / frames, 3),
        }
    return {**out, "deadline_misses": str(int(report.counters.get("late", 0)))}


class ResultsWriter:
    """Appends one row per finished point to ``results.csv`` and its frames to ``frames.jsonl``.

    :param folder: the run's output folder.
    :param scenario: the resolved scenario (seed, data size).
    :param points: the sweep (to label rows).
    :param label_set: the classes (one ``iou_<class>`` column each).
    """

    def __init__(self, folder: Path, scenario: Scenario, points: list[Point], label_set: LabelSet) -> None:
        self.folder, self.scenario, self.label_set = folder, scenario, label_set
        self.points = {p.index: p for p in points}
        self.columns = [*COLUMNS, *(f"iou_{c}" for c in label_set.classes), KEY_COLUMN]
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"output folder {folder} is a file; choose another --out")
        folder.mkdir(parents=True, exist_ok=True)
        self.csv_path, self.frames_path = folder / "results.csv", folder / "frames.jsonl"
        if self.csv_path.exists():
            with self.csv_path.open(newline="") as handle:
                header = next(csv.reader(handle), None)
            if header is not None and header != self.columns:
                raise ValueError(
                    f"{self.csv_path} has other columns (another label set or version); choose another --out folder"
                )

    def write(self, report: PointReport) -> dict[str, str]:
        """Append the point's row and frames; returns the row."""
        point = self.points[report.index]
        row = self.row(point, report)
        new = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        with self.csv_path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            if new:
                writer.writeheader()
            writer.writerow(row)
        with self.frames_path.open("a") as handle:
            for line in self.frame_lines(point, report):
                handle.write(json.dumps(line) + "\n")
        return row

    def row(self, point: Point, report: PointReport) -> dict[str, str]:
        """The ``results.csv`` row of a point."""
        size = report.scores.frames * self.pixels()
        sent = report.sent
        received = sum(f.packets_received for f in report.frames)
        latencies = [f.latency_ms for f in report.frames if f.latency_ms is not None]
        p50, p95 = np.percentile(latencies, [50, 95]).tolist() if latencies else [math.nan, math.nan]
        row = {
            "codec": point.codec,
            "knob": point.knob,
            "rate": f"{point.value:g}",
            "options": " ".join(f"{k}={v}" for k, v in sorted(point.options.items())),
            "channel": point.channel,
            "channel_params": channel_params(point),
            "snr_db": str(point.params.get("snr_db", "")),
            "loss": str(point.params.get("loss", "")),
            "seed": str(self.scenario.seed),
            "frames": str(report.scores.frames),
            "bpp": number(sent.get("payload_bits", 0) / max(size, 1), 5),
            "bpp_wire": number(sent.get("wire_bits", 0) / max(size, 1), 5),
            "miou": number(report.scores.miou, 4),
            "pixel_accuracy": number(report.scores.pixel_accuracy, 4),
            "psnr": f"{report.scores.psnr:.3f}",
            "ms_ssim": number(report.scores.ms_ssim, 4),
            "packets_sent": str(sent.get("packets_sent", 0)),
            "packets_lost": str(max(0, int(sent.get("packets_sent", 0)) - received)),
            "frames_complete": str(sum(f.complete for f in report.frames)),
            "frames_concealed": str(sum(f.concealed for f in report.frames)),
            "latency_ms_p50": number(p50, 3),
            "latency_ms_p95": number(p95, 3),
            **radio_columns(report),
            KEY_COLUMN: point.key,
        }
        for name, iou in zip(self.label_set.classes, report.scores.class_iou, strict=True):
            row[f"iou_{name}"] = number(iou, 4)
        return row

    def frame_lines(self, point: Point, report: PointReport) -> list[dict[str, Any]]:
        """One ``frames.jsonl`` object per frame."""
        frame_bits = report.sent.get("frame_bits", [])
        frame_packets = report.sent.get("frame_packets", [])
        frame_settings = report.sent.get("frame_settings", [])
        lines = []
        for record in report.frames:
            i = record.frame
            lines.append(
                {
                    "point": point.index,
                    "codec": point.codec,
                    "rate": point.value,
                    "channel": point.channel,
                    "params": point.params,
                    "frame": i,
                    "bits": frame_bits[i] if i < len(frame_bits) else None,
                    "packets_sent": frame_packets[i] if i < len(frame_packets) else None,
                    "packets_received": record.packets_received,
                    "complete": record.complete,
                    "concealed": record.concealed,
                    "latency_ms": record.latency_ms,
                    "psnr": None if math.isinf(record.psnr) else round(record.psnr, 3),
                    "codec_settings": frame_settings[i] if i < len(frame_settings) else {},
                }
            )
        return lines

    def pixels(self) -> int:
        """Pixels per frame."""
        size = self.scenario.data.size
        return size[0] * size[1] if size is not None else 1

    def done_keys(self) -> set[str]:
        """Keys of the points already in ``results.csv``."""
        if not self.csv_path.exists():
            return set()
        with self.csv_path.open(newline="") as handle:
            return {row[KEY_COLUMN] for row in csv.DictReader(handle) if row.get(KEY_COLUMN)}
