"""Reading a ``results.csv`` back for reports and plots: its columns and what each one is (a
metric, a channel parameter, a codec setting, another axis), numbers, groups of rows."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from semlink.scenario.schema import RATE_KNOBS

Row = dict[str, str]

REQUIRED_COLUMNS = ("codec", "bpp", "frames")
REFERENCE_CODEC = "identity"
KEY_COLUMN = "point_key"
RUN_COLUMN = "run"
"""The column an overlay of several runs adds: the name of the folder each row came from."""
VARIANT_KNOB = "map_scale"
"""A knob that tells variants of one codec apart (``sqgan`` at map x1 and x2) rather than tracing
its curve: preferred last."""
CODEC_KNOBS = (*(k for k in RATE_KNOBS if k != VARIANT_KNOB), VARIANT_KNOB)
"""The built-in codecs' knobs (:data:`semlink.catalog.KNOBS`), in the order they are preferred for
tracing a codec's curve over bpp."""


class ReportError(ValueError):
    """A run folder that cannot be reported on; the message says why in one line."""


class MissingResultsError(ReportError, FileNotFoundError):
    """The folder has no ``results.csv``."""


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


def slug(column: str) -> str:
    """A file-name part of a column name (``link.mtu`` -> ``link_mtu``; ``snr_db`` -> ``snr``)."""
    return {"snr_db": "snr"}.get(column, column.replace(".", "_"))


def axis_columns(header: Sequence[str]) -> list[str]:
    """The axis columns of a results header: those between ``codec`` and ``channel``."""
    if "codec" not in header or "channel" not in header:
        return []
    return list(header[header.index("codec") + 1 : header.index("channel")])


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


def group(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, list[Row]]:
    """Rows grouped by ``key``, groups and rows in first-seen order."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def axis_values(rows: Iterable[Row], column: str) -> set[float]:
    """The distinct numeric values of ``column`` (``loss``, ``snr_db``) in the run."""
    return {value for row in rows if (value := number(row.get(column))) is not None}


def distinct(rows: Iterable[Row], column: str) -> list[str]:
    """The distinct non-empty cells of ``column``: in numeric order when all are numbers, else first-seen."""
    cells = list(dict.fromkeys(text for row in rows if (text := row.get(column) or "")))
    if all(number(cell) is not None for cell in cells):
        return sorted(cells, key=lambda cell: float(cell))
    return cells


def channel_axis_names(header: Sequence[str], rows: Sequence[Row] = ()) -> list[str]:
    """The axis columns that are channel parameters: the keys of the rows' ``channel_params``
    (for a file written without that column, or with it empty in every row: bare names that are
    neither codec knobs nor the segmenter)."""
    axes = axis_columns(header)
    keys = {word.split("=", 1)[0] for row in rows for word in (row.get("channel_params") or "").split()}
    if keys:
        return [c for c in axes if c in keys]
    return [c for c in axes if "." not in c and c not in (*CODEC_KNOBS, "segmenter", RUN_COLUMN)]


@dataclass(frozen=True)
class AxisRoles:
    """What each axis column of a run is: a channel parameter, a codec setting, or another axis
    (``link.*``, ``data.*``, ``segmenter``, ``run``)."""

    channel: tuple[str, ...]
    codec: tuple[str, ...]
    other: tuple[str, ...]
    varying_knobs: frozenset[tuple[str, str]]
    """``(codec, column)`` pairs whose column takes more than one value among that codec's rows."""

    @property
    def knob_order(self) -> list[str]:
        """Codec settings in the order they are preferred to trace a curve: the shipped rate knobs,
        then a plugin's settings, ``map_scale`` last (it tells variants of one codec apart)."""
        shipped = [c for c in CODEC_KNOBS if c in self.codec and c != VARIANT_KNOB]
        return [
            *shipped,
            *(c for c in self.codec if c not in CODEC_KNOBS),
            *([VARIANT_KNOB] if VARIANT_KNOB in self.codec else []),
        ]

    def curve_knob(self, row: Row) -> str | None:
        """The setting that traces the row's codec along bpp: the first numeric setting of the row
        that varies among its codec's rows, else the first numeric setting it has."""
        numeric = [c for c in self.knob_order if number(row.get(c)) is not None]
        for column in numeric:
            if (row["codec"], column) in self.varying_knobs:
                return column
        return numeric[0] if numeric else None

    def variant(self, row: Row) -> list[str]:
        """The row's codec settings other than its curve knob: what tells variants of a codec apart."""
        knob = self.curve_knob(row)
        return [c for c in self.codec if c != knob and (row.get(c) or "")]

    def scene(self) -> list[str]:
        """The axes that are not codec settings (channel, link, data, run), in column order."""
        return [*self.other, *self.channel]


def axis_roles(header: Sequence[str], rows: Sequence[Row]) -> AxisRoles:
    """The roles of ``header``'s axis columns in ``rows``."""
    axes = axis_columns(header)
    channel = channel_axis_names(header, rows)
    other = [c for c in axes if c not in channel and ("." in c or c in ("segmenter", RUN_COLUMN))]
    codec = [c for c in axes if c not in channel and c not in other]
    by_codec = group(rows, lambda row: row["codec"])
    varying = {(name, c) for name, members in by_codec.items() for c in codec if len(distinct(members, c)) > 1}
    return AxisRoles(tuple(channel), tuple(codec), tuple(other), frozenset(varying))
