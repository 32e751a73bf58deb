"""Figures of a run's rows: a metric against bpp (a curve per codec variant, a panel per value of
the channel parameters that vary) and against any column, with the 95 % intervals the rows carry
and the clean-image reference; each figure as PNG and as PDF (vector), with a caption saying what
each point is and what it was averaged over. Every figure of a report shares one :class:`Look`:
the same colour for a codec, the same line style for a value of another axis, the same words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from semlink.report.captions import Averaged, caption
from semlink.report.labels import axis_title, codec_name, describe, metric_title, range_text, setting_text
from semlink.report.style import (
    HUES,
    MAX_STYLES,
    REFERENCE_COLOUR,
    LineStyle,
    Palette,
    dodge,
    fit_titles,
    line_styles,
    scale_axis,
    thin_tick_labels,
    variant_key,
)
from semlink.results.rows import (
    KEY_COLUMN,
    REFERENCE_CODEC,
    AxisRoles,
    Row,
    axis_columns,
    axis_roles,
    distinct,
    group,
    mean,
    number,
)

LEGEND_CHAR_IN = 0.075
LEGEND_HANDLE_IN = 0.8
LEGEND_ROW_IN = 0.25
"""Rough sizes of a figure legend's text (a character's width), its marker and gap, and a row, in inches."""
Point = tuple[float, float, float | None, float | None]
"""``(x, y, low, high)`` of one plotted point."""


@dataclass(frozen=True)
class Drawn:
    """A figure and the caption the report prints under it."""

    figure: Figure
    caption: str


@dataclass(frozen=True)
class Look:
    """What every figure of one report shares: the roles of its columns, a colour per codec and
    the rows (whose values give each axis its line styles)."""

    header: Sequence[str]
    rows: Sequence[Row]
    roles: AxisRoles
    palette: Palette

    def styles(self, axis: str | None) -> dict[str, LineStyle]:
        """A line style per value of ``axis`` (none without one)."""
        return line_styles(self.rows, axis)

    def curve_label(self, row: Row) -> str:
        """``sqgan, map ×2, target 0.03–0.1 bpp``: the row's codec variant and the range of its curve knob."""
        key = variant_key(row, self.roles)
        knob = self.roles.curve_knob(row)
        base = describe(row, ["codec", *self.roles.variant(row)])
        if knob is None:
            return base
        values = distinct([r for r in self.rows if variant_key(r, self.roles) == key], knob)
        return f"{base}, {range_text(knob, values)}"


def look_of(header: Sequence[str], rows: Sequence[Row]) -> Look:
    """The look of a report on ``rows``."""
    roles = axis_roles(header, rows)
    return Look(header, rows, roles, Palette(rows, roles))


def save_figure(figure: Figure, png: Path) -> list[Path]:
    """Write ``figure`` as ``png`` and as a PDF beside it; returns both paths."""
    pdf = png.with_suffix(".pdf")
    figure.savefig(png, dpi=110, bbox_inches="tight")  # tight: a legend outside the axes is never cut off
    figure.savefig(pdf, bbox_inches="tight")
    return [png, pdf]


def new_figure(panels: int, width: float = 5.0, height: float = 3.8) -> tuple[Figure, list[Axes]]:
    """A figure on the Agg canvas with ``panels`` axes sharing both axes, in a grid of at most three
    columns; spare axes hidden."""
    columns = min(3, panels)
    grid_rows = math.ceil(panels / columns)
    figure = Figure(figsize=(width * columns, height * grid_rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(grid_rows, columns, squeeze=False, sharex=True, sharey=True).flat)
    for spare in axes[panels:]:
        spare.set_visible(False)
    return figure, axes[:panels]


def split_scene(
    axes: Sequence[str], rows: Sequence[Row], channel: Sequence[str], panel_first: bool = True
) -> tuple[list[str], str | None]:
    """The axes that vary split into panels and one line-styled axis, when one has at most four
    values: with ``panel_first`` (figures against bpp, where the channel makes the panels) the last
    axis that is not a channel parameter (a link setting, the run), else the last of several channel
    parameters; without it, the last axis. The others make panels."""
    varying = [a for a in axes if len(distinct(rows, a)) > 1]
    others = [a for a in varying if a not in channel]
    candidates = others or (varying[1:] if len(varying) > 1 else [])
    candidates = varying if panel_first is False else candidates
    style = next((a for a in reversed(candidates) if len(distinct(rows, a)) <= MAX_STYLES), None)
    return [a for a in varying if a != style], style


def panels_of(rows: Sequence[Row], axes: Sequence[str]) -> list[tuple[str, list[Row]]]:
    """Rows grouped into panels by the values of ``axes`` in value order, each titled by those values."""
    if not axes:
        return [("", list(rows))]
    orders = {a: distinct(rows, a) for a in axes}

    def rank(members: list[Row]) -> tuple[int, ...]:
        return tuple(orders[a].index(members[0][a]) if members[0].get(a) else -1 for a in axes)

    groups = sorted(group(rows, lambda row: describe(row, axes)).values(), key=rank)
    return [(describe(members[0], axes), members) for members in groups]


def point_of(members: Sequence[Row], x: float, y: str) -> Point | None:
    """The mean of ``y`` and of its interval bounds over ``members``, at ``x``; None without a value."""
    value = mean(number(r.get(y)) for r in members)
    if value is None:
        return None
    low = mean(number(r.get(f"{y}_lo")) for r in members)
    high = mean(number(r.get(f"{y}_hi")) for r in members)
    return (x, value, low, high)


def draw_series(axes: Axes, series: list[tuple[list[Point], str, LineStyle]], log: bool) -> None:
    """Lines with markers, error bars where every point has an interval, points at the same x set apart."""
    xs = dodge([[p[0] for p in points] for points, _, _ in series], log)
    for shifted, (points, colour, style) in zip(xs, series, strict=True):
        bars = all(p[2] is not None and p[3] is not None for p in points)
        errors = [  # an interval that misses its value (hand-edited rows) is drawn up to the value, not refused
            [max(0.0, p[1] - float(p[2] or 0)) for p in points],
            [max(0.0, float(p[3] or 0) - p[1]) for p in points],
        ]
        axes.errorbar(
            shifted,
            [p[1] for p in points],
            yerr=errors if bars else None,
            color=colour,
            linestyle=style.dashes,
            marker=style.marker,
            markersize=5,
            capsize=3 if bars else 0,
            linewidth=1.4,
        )


def key_entries(entries: dict[str, Artist], styles: dict[str, LineStyle], axis: str | None) -> dict[str, Artist]:
    """The legend: the codec entries, then one per line style (``30 km/h`` dashed)."""
    for value, style in styles.items():
        dashes: Any = style.dashes  # matplotlib's stubs list only its named styles
        handle = Line2D([], [], color="0.2", linestyle=dashes, marker=style.marker, markersize=5)
        entries[setting_text(str(axis), value)] = handle
    return entries


def codec_handle(colour: str) -> Line2D:
    """A legend handle for a codec: its colour, a solid line, a round marker."""
    return Line2D([], [], color=colour, marker="o", markersize=5, linewidth=1.4)


def clean_level(rows: Sequence[Row], y: str) -> float | None:
    """The mean of ``y`` over the rows of the reference codec (the uncompressed image)."""
    return mean(number(row.get(y)) for row in rows if row["codec"] == REFERENCE_CODEC)


def bpp_curves(
    members: Sequence[Row], look: Look, style_axis: str | None, y: str
) -> list[tuple[list[Point], str, LineStyle]]:
    """A panel's curves over bpp: one per codec variant and line style, a point per setting."""
    styles = look.styles(style_axis)
    coded = [row for row in members if row["codec"] != REFERENCE_CODEC]
    curves = []
    for rows_of in group(coded, lambda r: f"{variant_key(r, look.roles)}\0{r.get(style_axis or '', '')}").values():
        settings = group(rows_of, lambda r: r.get(KEY_COLUMN) or str(id(r)))
        points = [p for ms in settings.values() if (p := bpp_point(ms, y)) is not None]
        if points:
            style = styles.get(rows_of[0].get(style_axis or "") or "", LineStyle())
            curves.append((sorted(points), look.palette.variant_colour(rows_of[0]), style))
    return curves


def bpp_point(members: Sequence[Row], y: str) -> Point | None:
    """One setting's point over bpp (None without a finite, positive bpp)."""
    bpp = mean(number(r.get("bpp")) for r in members)
    return point_of(members, bpp, y) if bpp is not None and 0 < bpp < math.inf else None


def plot_vs_bpp(rows: Sequence[Row], y: str, header: Sequence[str] | None = None, look: Look | None = None) -> Drawn:
    """Metric ``y`` against bpp: a curve per codec variant, a panel per value of the channel
    parameters that vary (a line style for one more axis), every panel on the same axes."""
    look = look or look_of(header or list(rows[0]), rows)
    panel_axes, style_axis = split_scene(look.roles.scene(), rows, look.roles.channel)
    panels = panels_of(rows, panel_axes)
    figure, axes = new_figure(len(panels))
    entries: dict[str, Artist] = {}
    curves_of = [bpp_curves(members, look, style_axis, y) for _, members in panels]
    bpps = [p[0] for curves in curves_of for points, _, _ in curves for p in points]
    log = scale_axis(axes[0], "bpp", bpps, swept=False)  # the axes are shared: once for all
    for ax, (title, members), curves in zip(axes, panels, curves_of, strict=True):
        draw_series(ax, curves, log)
        ax.set_title(title, fontsize="medium")
        level = clean_level(members, y) if any(r["codec"] == REFERENCE_CODEC for r in members) else None
        level = level if level is not None else clean_level(rows, y)
        if level is not None:
            ax.axhline(level, linestyle="--", color=REFERENCE_COLOUR, linewidth=1.2)
        ax.grid(True, which="major", alpha=0.3)
    for row in rows:
        if row["codec"] != REFERENCE_CODEC:
            entries.setdefault(look.curve_label(row), codec_handle(look.palette.variant_colour(row)))
    key_entries(entries, look.styles(style_axis), style_axis)
    reference = clean_level(rows, y)
    if reference is not None:
        entries[f"{codec_name(REFERENCE_CODEC)}: {reference:.3g}"] = Line2D(
            [], [], linestyle="--", color=REFERENCE_COLOUR
        )
    label_panels(figure, axes, axis_title("bpp"), y_label(rows, y))
    figure.suptitle(f"{metric_title(y)} against bits per pixel")
    finish(figure, entries)
    return Drawn(figure, caption(rows, panel_axes, style_axis, Averaged(), "bpp", reference is not None))


def y_label(rows: Sequence[Row], y: str) -> str:
    """The metric's axis label, saying so when the rows carry 95 % intervals."""
    has = any(number(row.get(f"{y}_lo")) is not None for row in rows)
    return f"{metric_title(y)} (95 % interval)" if has else metric_title(y)


def label_panels(figure: Figure, axes: Sequence[Axes], x_label: str, y_label_text: str) -> None:
    """Axis labels and tick labels on the outer panels only (the bottom of each column, the first column)."""
    columns = min(3, len(axes))
    for index, ax in enumerate(axes):
        ax.label_outer()
        if index + columns >= len(axes):  # nothing below it: the bottom of its column
            ax.set_xlabel(x_label)
            ax.tick_params(labelbottom=True)
        if index % columns == 0:
            ax.set_ylabel(y_label_text)


def finish(figure: Figure, entries: dict[str, Artist]) -> None:
    """Add the legend, then fit the panel titles and thin colliding tick labels."""
    if entries:
        add_legend(figure, entries)
    fit_titles(figure)
    thin_tick_labels(figure)


def add_legend(figure: Figure, entries: dict[str, Artist]) -> None:
    """A legend under the panels in as many columns (at most four) as fit, the figure grown to hold it."""
    entry_in = max(map(len, entries)) * LEGEND_CHAR_IN + LEGEND_HANDLE_IN
    width, height = figure.get_size_inches()
    columns = max(1, min(4, len(entries), int(max(width, 2 * entry_in) // entry_in)))
    rows = math.ceil(len(entries) / columns)
    figure.set_size_inches(max(width, columns * entry_in + 0.3), height + rows * LEGEND_ROW_IN)
    figure.legend(list(entries.values()), list(entries.keys()), loc="outside lower center", ncols=columns)


def series_columns(row: Row, roles: AxisRoles, x: str) -> list[str]:
    """The columns naming a line of a metric-against-``x`` figure: the codec, its variant
    settings and its curve knob (all but ``x``; the reference codec by its name alone)."""
    if row["codec"] == REFERENCE_CODEC:  # the clean image has no settings worth a word
        return ["codec"]
    knob = roles.curve_knob(row)
    return [c for c in ("codec", *roles.variant(row), *([knob] if knob else [])) if c != x]


def plot_against(
    rows: Sequence[Row], header: Sequence[str], x: str, by: str | None, y: str, look: Look | None = None
) -> Drawn:
    """Metric ``y`` against column ``x`` (numeric, or categories in first-seen order): a line per
    codec setting (or per value of ``by``), a line style and panels for the other axes that vary
    (none with ``by``: the rest is averaged, and the caption says over what)."""
    look = look or look_of(header, rows)
    roles = look.roles
    if by is None:
        panel_axes, style_axis = split_scene([a for a in roles.scene() if a != x], rows, roles.channel, False)
    else:
        panel_axes, style_axis = [], None
    styles = look.styles(style_axis)
    numeric = all(number(row.get(x)) is not None for row in rows if row.get(x))
    categories = distinct(rows, x) if numeric else list(dict.fromkeys(row.get(x) or "-" for row in rows))
    panels = panels_of(rows, panel_axes)
    figure, axes = new_figure(
        len(panels), width=9.0 if len(panels) == 1 else 5.0, height=4.5 if len(panels) == 1 else 3.8
    )
    shown = [c for c in axis_columns(header) if c != x]
    averaged = Averaged()
    entries: dict[str, Artist] = {}
    xs = [number(c) or 0.0 for c in categories] if numeric else [float(i) for i in range(len(categories))]
    log = scale_axis(axes[0], x, xs, swept=True) if numeric else False
    for ax, (title, members) in zip(axes, panels, strict=True):
        series = []
        for lines in group(members, lambda r: line_key(r, roles, x, by, style_axis)).values():
            first = lines[0]
            label = describe(first, [by] if by else series_columns(first, roles, x))
            colour = line_colour(first, look, x, by, [describe(r, [by]) for r in rows] if by else [])
            entries.setdefault(label, codec_handle(colour))
            points = []
            for key, at_x in group(lines, lambda r: r.get(x) or "-").items():
                averaged.note(at_x, shown)
                position = number(key) if numeric else float(categories.index(key))
                point = point_of(at_x, position, y) if position is not None else None
                if point is not None:
                    points.append(point)
            style = styles.get(first.get(style_axis or "") or "", LineStyle())
            if points:
                series.append((sorted(points), colour, style))
        draw_series(ax, series, log)
        ax.set_title(title, fontsize="medium")
        ax.grid(True, alpha=0.3)
    if not numeric:
        axes[0].set_xticks(range(len(categories)), categories)
    key_entries(entries, styles, style_axis)
    label_panels(figure, axes, axis_title(x), y_label(rows, y))
    over = averaged.columns()
    suffix = f", mean over {', '.join(axis_title(c) for c in over)}" if over else ""
    figure.suptitle(f"{metric_title(y)} against {axis_title(x).split(' =')[0].split(' (')[0]}{suffix}")
    finish(figure, entries)
    return Drawn(figure, caption(rows, panel_axes, style_axis, averaged, x, False))


def line_key(row: Row, roles: AxisRoles, x: str, by: str | None, style_axis: str | None) -> str:
    """Which line of a metric-against-``x`` figure a row belongs to."""
    if by is not None:
        return row.get(by) or "-"
    return f"{describe(row, series_columns(row, roles, x))}\0{row.get(style_axis or '', '')}"


def line_colour(row: Row, look: Look, x: str, by: str | None, values: Sequence[str]) -> str:
    """A line's colour: its codec's (as everywhere in the report), or with ``by`` other than the
    codec one colour per value of ``by``."""
    if by == "codec":
        return look.palette.family(row["codec"])
    if by is not None:
        return HUES[list(dict.fromkeys(values)).index(describe(row, [by])) % len(HUES)]
    if x in look.roles.codec:
        return look.palette.variant_colour(row)
    return look.palette.colour(row)
