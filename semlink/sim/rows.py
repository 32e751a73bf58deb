"""Reading and grouping the rows of a ``results.csv`` for reports and plots: columns, numbers,
channel points, codec labels, curves."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

Row = dict[str, str]
ChannelPoint = tuple[str, str, str, str]

REQUIRED_COLUMNS = ("codec", "bpp", "frames")
PACKETS = "packets_lost/packets_sent"
LEADING_COLUMNS = ("codec", "frames", "repeats", "bpp", "bpp_wire")
TRAILING_COLUMNS = (PACKETS, "mcs", "harq_tx_mean", "airtime_ms", "deadline_misses")
METRIC_LABELS = {"miou": "mIoU", "psnr": "PSNR (dB)", "ms_ssim": "MS-SSIM", "pixel_accuracy": "pixel accuracy"}
RADIO_COLUMNS = ("mcs", "harq_tx_mean", "airtime_ms", "deadline_misses")
"""Shown only when some row has a radio (their CSV cells are empty otherwise)."""
DECIMALS = {
    "bpp": 4,
    "bpp_wire": 4,
    "miou": 3,
    "pixel_accuracy": 3,
    "psnr": 2,
    "ms_ssim": 4,
    "latency_ms_p50": 1,
    "latency_ms_p95": 1,
    "frames_complete": 1,
    "frames_concealed": 1,
}
REFERENCE_CODEC = "identity"


class ReportError(ValueError):
    """A run folder that cannot be reported on; the message says why in one line."""


class MissingResultsError(ReportError, FileNotFoundError):
    """The folder has no ``results.csv``."""


AXIS_LABELS = {"loss": "packet loss", "snr_db": "SNR = Es/N0 (dB)", "speed_kmh": "speed (km/h)"}


def metric_columns(header: Sequence[str]) -> list[str]:
    """The metric columns of a results header (between ``frames`` and ``bpp``), intervals left out."""
    if "frames" not in header or "bpp" not in header:
        return []
    inner = header[header.index("frames") + 1 : header.index("bpp")]
    return [c for c in inner if not c.endswith(("_lo", "_hi"))]


def plotted_metric(header: Sequence[str], y: str | None) -> str:
    """The metric to plot: ``y`` if the run has it, else ``miou``, else the run's first metric.

    :raises ReportError: for a ``y`` the run lacks, or a run without metrics.
    """
    metrics = metric_columns(header)
    if y is not None and y not in metrics:
        raise ReportError(f"results.csv has no metric {y!r}; choose one of: {', '.join(metrics) or 'none'}")
    chosen = y or ("miou" if "miou" in metrics else metrics[0] if metrics else None)
    if chosen is None:
        raise ReportError("results.csv has no metric columns; nothing to plot")
    return chosen


def metric_label(y: str) -> str:
    """The axis label of a metric column."""
    return METRIC_LABELS.get(y, y)


def slug(column: str) -> str:
    """A file-name part of a column name (``link.mtu`` -> ``link_mtu``; ``snr_db`` -> ``snr``)."""
    return {"snr_db": "snr"}.get(column, column.replace(".", "_"))


def axis_columns(header: Sequence[str]) -> list[str]:
    """The axis columns of a results header: those between ``codec`` and ``channel``."""
    if "codec" not in header or "channel" not in header:
        return []
    return list(header[header.index("codec") + 1 : header.index("channel")])


def channel_axis_names(header: Sequence[str]) -> set[str]:
    """Axis columns that are channel parameters (bare names that are neither dotted nor codec knobs)."""
    return {c for c in axis_columns(header) if "." not in c and c not in CODEC_KNOBS and c != "segmenter"}


CODEC_KNOBS = ("target_bpp", "quality", "tokens", "map_scale", "factor")
"""Axis columns that belong to the codec: they tell lines apart in mIoU-against-bpp plots."""


def read_results(folder: Path) -> tuple[list[str], list[Row]]:
    """The header and rows of ``folder/results.csv``.

    :raises ReportError: when the file is missing, has no rows or lacks a required column.
    """
    path = folder / "results.csv"
    if not path.is_file():
        raise MissingResultsError(f"no results at {path}; run `semlink run` first")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [dict(row) for row in reader]
        header = list(reader.fieldnames or [])
    if not rows:
        raise ReportError(f"{path} has no finished points yet; nothing to report")
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ReportError(f"{path} lacks the column(s) {', '.join(missing)}; is it a semlink results file?")
    return header, rows


def number(text: str | None) -> float | None:
    """A CSV cell as a float; ``None`` for an empty, unreadable or NaN cell (``inf`` stays ``inf``)."""
    try:
        value = float(text or "")
    except ValueError:
        return None
    return None if math.isnan(value) else value


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not ``None``; ``None`` when there are none."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def channel_point(row: Row) -> ChannelPoint:
    """The row's ``(channel, snr_db, loss, other parameters)``, ``"-"`` for each one missing.

    The other parameters (``channel_params`` without loss and SNR) keep points that differ only in,
    say, ``ber`` or ``delay_ms`` in separate panels instead of averaging them together.
    """
    extra = " ".join(p for p in (row.get("channel_params") or "").split() if not p.startswith(("loss=", "snr_db=")))
    others = " ".join(f"{c}={row.get(c)}" for c in axis_columns(list(row)) if "." in c or c == "segmenter")
    extra = f"{extra} {others}".strip()
    return (
        row.get("channel") or "-",
        row.get("snr_db") or "-",
        row.get("loss") or "-",
        extra or "-",
    )


def panel_title(point: ChannelPoint) -> str:
    """``"gilbert_elliott loss=0.05"``: the channel and each of its parameters that is set."""
    channel, snr_db, loss, extra = point
    parts = [channel]
    if snr_db != "-":
        parts.append(f"snr={snr_db} dB")
    if loss != "-":
        parts.append(f"loss={loss}")
    if extra != "-":
        parts.append(extra)
    return " ".join(parts)


def point_order(point: ChannelPoint) -> tuple[str, float, float, str]:
    """Sort key of channel points: by name, then numerically by SNR and loss (missing first), then the rest."""
    channel, snr_db, loss, extra = point
    return channel, or_minus_inf(number(snr_db)), or_minus_inf(number(loss)), extra


def or_minus_inf(value: float | None) -> float:
    """``value``, or minus infinity when it is missing (sorts missing values first)."""
    return -math.inf if value is None else value


def codec_label(row: Row) -> str:
    """The codec's name with its swept settings other than its rate knob (``sqgan map_scale=2``).

    One line per variant in mIoU-against-bpp plots.
    """
    settings = " ".join(
        f"{c}={row[c]}"
        for c in codec_setting_columns(row)
        if c not in ("target_bpp", "quality", "tokens") and (row.get(c) or "")
    )
    return f"{row['codec']} {settings}".strip()


def codec_setting_columns(row: Row) -> list[str]:
    """The row's axis columns that are codec settings: knobs, and options (neither channel nor dotted)."""
    header = list(row)
    channel = channel_axis_names(header) - set(CODEC_KNOBS)
    return [c for c in axis_columns(header) if c not in channel and "." not in c and c != "segmenter"]


def group(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, list[Row]]:
    """Rows grouped by ``key``, groups and rows in first-seen order."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


KEY_COLUMN = "point_key"


def curve(
    rows: Sequence[Row], by: str, x_column: str, y_column: str = "miou"
) -> list[tuple[float, float, float | None, float | None]]:
    """``(x, y, low, high)`` points sorted by x: rows grouped by column ``by``, each a mean;
    ``low``/``high`` the mean of the rows' 95 % interval bounds (None where the rows have none).

    Points with a missing x or y are left out.
    """
    points = []
    for members in group(rows, lambda row: row.get(by, "")).values():
        x = mean(number(row.get(x_column)) for row in members)
        y = mean(number(row.get(y_column)) for row in members)
        low = mean(number(row.get(f"{y_column}_lo")) for row in members)
        high = mean(number(row.get(f"{y_column}_hi")) for row in members)
        if x is not None and y is not None:
            points.append((x, y, low, high))
    return sorted(points, key=lambda p: p[0])


def axis_values(rows: Iterable[Row], column: str) -> set[float]:
    """The distinct numeric values of ``column`` (``loss``, ``snr_db``) in the run."""
    return {value for row in rows if (value := number(row.get(column))) is not None}
