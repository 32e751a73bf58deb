"""The caption under each figure of a report: what a point is, what its bars are, what the panels
and line styles tell apart, and what (if anything) was averaged over."""

from __future__ import annotations

from collections.abc import Sequence

from semlink.report.labels import axis_title, column_title, value_text
from semlink.results.rows import Row, distinct, number


class Averaged:
    """The settings that a figure's points averaged over, with the values each point mixed."""

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {}

    def note(self, members: Sequence[Row], columns: Sequence[str]) -> None:
        """Record the columns in which the rows of one plotted point differ."""
        for column in columns:
            cells = distinct(members, column)
            if len(cells) > 1:
                known = self.values.setdefault(column, [])
                known += [cell for cell in cells if cell not in known]

    def columns(self) -> list[str]:
        """The columns averaged over, in the order first met."""
        return list(self.values)

    def words(self) -> str:
        """``target bpp (0.05, 0.1); MTU (its-g5, ip)``."""
        parts = []
        for column, cells in self.values.items():
            ordered = (
                sorted(cells, key=lambda c: number(c) or 0.0) if all(number(c) is not None for c in cells) else cells
            )
            parts.append(f"{column_title(column)} ({', '.join(value_text(column, c) for c in ordered)})")
        return "; ".join(parts)


def span(rows: Sequence[Row], column: str) -> str:
    """``30`` or ``10–30``: the values of a count column over the rows."""
    values = sorted({int(v) for row in rows if (v := number(row.get(column))) is not None})
    if not values:
        return ""
    return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def caption(
    rows: Sequence[Row], panels: Sequence[str], style: str | None, averaged: Averaged, x: str, reference: bool
) -> str:
    """The caption of a figure of ``rows`` drawn against ``x``."""
    frames, repeats = span(rows, "frames"), span(rows, "repeats") or "1"
    realisations = f" in each of {repeats} channel realisations" if repeats != "1" else ""
    over = "repeats and frames" if repeats != "1" else "frames"
    if averaged.values:
        point = f"Each point is the mean of the rows of results.csv that differ only in {averaged.words()}"
        bars = "bars: the mean of those rows' 95 % interval bounds"
    else:
        point = f"Each point is one setting: its mean over {frames} frames{realisations}"
        bars = f"bars: its 95 % interval (bootstrap over {over})"
    has_bars = any(key.endswith("_lo") and value for row in rows for key, value in row.items())
    parts = [f"{point}{'; ' + bars if has_bars else ''}."]
    if panels:
        parts.append(f"Panels: {', '.join(axis_title(a) for a in panels)}.")
    if style:
        parts.append(f"Line styles: {axis_title(style)}.")
    parts.append(
        f"Points at nearly the same {axis_title(x).split(' (')[0]} are set slightly apart sideways "
        "so their bars stay visible."
    )
    if reference:
        parts.append("Dashed grey: the clean image (codec identity).")
    if not averaged.values:
        parts.append("Nothing is averaged over another setting.")
    return " ".join(parts)
