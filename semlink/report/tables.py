"""The table of a report: a row per point, human headings, numbers rounded (counts as integers),
each value with its 95 % interval where the row has one; a column that is the same in every row
moves to a line above the table, one that is empty or zero everywhere is left out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from semlink.report.labels import column_title, value_text
from semlink.results.rows import Row, axis_columns, metric_columns, number

PACKETS = "packets"
"""The table's ``lost/sent`` column, made of ``packets_lost`` and ``packets_sent``."""
SETTING_COLUMNS = ("frames", "repeats", "bpp", "bpp_wire")
TRAILING_COLUMNS = (PACKETS, "mcs", "harq_tx_mean", "airtime_ms", "deadline_misses")
COUNT_COLUMNS = frozenset({"frames", "repeats", "frames_complete", "frames_concealed", "deadline_misses"})
"""Counts: printed as integers (a mean over realisations that is not whole keeps one decimal)."""
DECIMALS = {
    "bpp": 4,
    "bpp_wire": 4,
    "miou": 3,
    "pixel_accuracy": 3,
    "map_consistency": 3,
    "psnr": 2,
    "ms_ssim": 4,
    "latency_ms_p50": 1,
    "latency_ms_p95": 1,
    "mcs": 1,
    "harq_tx_mean": 2,
    "airtime_ms": 3,
}
MISSING = "-"
INTERVAL_OPEN = " ["
"""What separates a value from its interval in a cell (``0.310 [0.290, 0.330]``)."""


@dataclass(frozen=True)
class Table:
    """A report's table: the columns shown, the cells, and the columns equal in every row."""

    columns: list[str]
    cells: list[list[str]]
    same: list[tuple[str, str]]
    """``(column, cell)`` of each column that is the same in every row (said once, above the table)."""

    @property
    def headings(self) -> list[str]:
        """The columns in words."""
        return [column_title(c) for c in self.columns]

    def interval_line(self, rows: Sequence[Row]) -> str:
        """What the brackets are (empty when no cell has an interval): with one channel
        realisation a point's interval is a bootstrap over its frames, with several over the
        realisations, then their frames."""
        if not any(INTERVAL_OPEN in text for cells in self.cells for text in cells):
            return ""
        repeats = {int(r) for row in rows if (r := number(row.get("repeats"))) is not None} or {1}
        if repeats == {1}:
            over = "a bootstrap over the point's frames (one channel realisation each)"
        elif 1 in repeats:
            over = (
                "a bootstrap over the point's frames, or for a point of several channel realisations"
                " over them, then their frames"
            )
        else:
            over = "a two-stage bootstrap over the point's channel realisations, then their frames"
        return f"In brackets: the 95 % interval of the value, {over}."

    def same_line(self) -> str:
        """``In every row: frames 2, repeats 3.`` (empty when no column is the same everywhere)."""
        if not self.same:
            return ""
        return "In every row: " + ", ".join(f"{column_title(c)} {text}" for c, text in self.same) + "."


def candidate_columns(header: Sequence[str]) -> list[str]:
    """Every column a table may show, in order: the codec, the axes, the counts and rates, the
    metrics (per-class breakdowns stay in the CSV), the packets and the radio."""
    metrics = metric_columns(header)
    whole = [m for m in metrics if not m.startswith("iou_") and not any(m.startswith(f"{o}_") for o in metrics)]
    present = set(header)
    trailing = [c for c in TRAILING_COLUMNS if c in present or (c == PACKETS and "packets_sent" in present)]
    return ["codec", *axis_columns(header), *(c for c in SETTING_COLUMNS if c in present), *whole, *trailing]


def build_table(header: Sequence[str], rows: Sequence[Row]) -> Table:
    """The table of ``rows``: empty and all-zero columns left out, columns the same in every row
    (but the codec) moved to :attr:`Table.same` when there are several rows."""
    columns, same = [], []
    texts = {c: [cell(row, c) for row in rows] for c in candidate_columns(header)}
    for column, cells in texts.items():
        if column != "codec" and all(zero_or_missing(row, column) for row in rows):
            continue
        if column != "codec" and len(rows) > 1 and len(set(cells)) == 1:
            same.append((column, cells[0]))
            continue
        columns.append(column)
    return Table(columns, [[texts[c][i] for c in columns] for i in range(len(rows))], same)


def zero_or_missing(row: Row, column: str) -> bool:
    """Whether the row's cell says nothing: empty, or zero (with a zero interval, if any)."""
    if column == PACKETS:
        return not number(row.get("packets_sent"))
    if column in ("codec", *axis_columns(list(row))):
        return not (row.get(column) or "")
    cells = [row.get(column), row.get(f"{column}_lo"), row.get(f"{column}_hi")]
    return all(not (text or "").strip() or number(text) == 0 for text in cells)


def number_text(column: str, value: float) -> str:
    """A number as the table prints it: counts whole, the rest to the column's decimals."""
    if value in (float("inf"), float("-inf")):
        return "∞" if value > 0 else "-∞"
    if column in COUNT_COLUMNS or column in ("packets_lost", "packets_sent"):
        tenths = f"{value:.1f}"
        whole = tenths[:-2] if tenths.endswith(".0") else tenths  # a bound of 20.97 reads 21, not 21.0
        return "0" if whole == "-0" else whole
    return f"{value:.{DECIMALS.get(column, 4)}f}"


def cell(row: Row, column: str) -> str:
    """One table cell: axes as the report says them, numbers rounded (counts whole) with
    ``[low, high]`` where the row has an interval, ``-`` when missing."""
    if column == PACKETS:
        lost, sent = number(row.get("packets_lost")), number(row.get("packets_sent"))
        return f"{number_text('packets_lost', lost or 0.0)}/{number_text('packets_sent', sent)}" if sent else MISSING
    text = (row.get(column) or "").strip()
    if not text:
        return MISSING
    if column == "codec" or column in axis_columns(list(row)):
        return value_text(column, text)
    value = number(text)
    if value is None:
        return text
    shown = number_text(column, value)
    low, high = number(row.get(f"{column}_lo")), number(row.get(f"{column}_hi"))
    if low is None or high is None:
        return shown
    bounds = (number_text(column, low), number_text(column, high))
    return shown if bounds == (shown, shown) else f"{shown}{INTERVAL_OPEN}{bounds[0]}, {bounds[1]}]"
