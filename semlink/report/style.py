"""How a report's figures look alike: one colour per codec (a hue per codec family in sweep order,
shades for its variants and rates), one line style per value of another axis, axes scaled and
ticked so labels never collide, panel titles that fit their panel, points at the same x set
slightly apart."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backend_bases import RendererBase
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FixedLocator,
    Formatter,
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
)
from matplotlib.transforms import Bbox

from semlink.report.labels import PERCENT_COLUMNS, describe
from semlink.results.rows import REFERENCE_CODEC, AxisRoles, Row, distinct, group

HUES = (*(f"C{i}" for i in range(10)), *(to_hex(shade) for shade in colormaps["tab20"](range(1, 20, 2))))
"""Matplotlib's ten default colours, then the light shades of the same hues (tab20's): a hue per
codec family, twenty before one repeats."""
REFERENCE_COLOUR = "0.35"
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D")
MAX_STYLES = len(LINE_STYLES)
SHADE_RANGE = 0.35
"""How far a family's shades go towards black (negative) and white (positive): a codec's
variants from ``-SHADE_RANGE`` to ``+SHADE_RANGE`` around its hue, the settings along one
variant's curve half as far around the variant's colour (the middle one exactly its colour)."""
DODGE = 0.018
"""How far apart points at the same x are set, as a fraction of the axis span."""
DODGE_WIDTH = 0.1
"""The widest a group of points at one x is spread, as a fraction of the axis span."""
DODGE_GAP = 0.4
"""The widest a group of points at one x is spread, as a fraction of the gap to the nearest other x."""


def shade(colour: str, amount: float) -> str:
    """``colour`` mixed with black (``amount`` < 0) or white (> 0) by ``|amount|``."""
    if amount == 0:
        return to_hex(colour)
    target = 1.0 if amount > 0 else 0.0
    red, green, blue = (c + (target - c) * abs(amount) for c in to_rgb(colour))
    return to_hex((red, green, blue))


def codec_key(row: Row, roles: AxisRoles) -> str:
    """The codec, its variant settings and its curve knob's value: one line of a metric-against-axis figure."""
    knob = roles.curve_knob(row)
    return describe(row, ["codec", *roles.variant(row), *([knob] if knob else [])])


def variant_key(row: Row, roles: AxisRoles) -> str:
    """The codec and its variant settings (not the curve knob's value): one curve over bpp."""
    knob = roles.curve_knob(row) or ""
    return f"{describe(row, ['codec', *roles.variant(row)])}\0{knob}"


class Palette:
    """One colour per codec across every figure of a report: a hue per codec family in the order
    the sweep meets them (a codec with one variant is drawn in exactly its hue), the family's
    variants in shades of it (darker first), the settings along a variant's curve (its rates) in
    shades of the variant's colour (the middle one of an odd count the variant's own colour)."""

    def __init__(self, rows: Sequence[Row], roles: AxisRoles) -> None:
        self.roles = roles
        coded = [row for row in rows if row["codec"] != REFERENCE_CODEC]
        families = group(coded, lambda row: row["codec"])
        self.hues = {name: HUES[index % len(HUES)] for index, name in enumerate(families)}
        self.colours: dict[str, str] = {}
        self.variant_colours: dict[str, str] = {}
        for name, members in families.items():
            variants = group(members, lambda row: variant_key(row, roles))
            for index, (variant, rows_of) in enumerate(variants.items()):
                colour = shade(self.hues[name], spread(index, len(variants), SHADE_RANGE))
                self.variant_colours[variant] = colour
                own = list(dict.fromkeys(codec_key(row, roles) for row in rows_of))
                for rank, key in enumerate(own):
                    self.colours[key] = shade(colour, spread(rank, len(own), SHADE_RANGE / 2))

    def colour(self, row: Row) -> str:
        """The colour of the row's codec setting (a shade of its family's hue)."""
        if row["codec"] == REFERENCE_CODEC:
            return REFERENCE_COLOUR
        return self.colours.get(codec_key(row, self.roles), self.family(row["codec"]))

    def variant_colour(self, row: Row) -> str:
        """The colour of the row's codec variant as one curve over bpp."""
        if row["codec"] == REFERENCE_CODEC:
            return REFERENCE_COLOUR
        return self.variant_colours.get(variant_key(row, self.roles), self.family(row["codec"]))

    def family(self, codec: str) -> str:
        """The hue of a codec family."""
        return REFERENCE_COLOUR if codec == REFERENCE_CODEC else self.hues.get(codec, HUES[0])


def spread(index: int, count: int, reach: float) -> float:
    """The shade of member ``index`` of ``count``: 0 for one, else evenly from ``-reach`` (dark)
    to ``+reach`` (light), the middle of an odd count 0."""
    return 0.0 if count < 2 else reach * (2 * index / (count - 1) - 1)


@dataclass(frozen=True)
class LineStyle:
    """The dash pattern and marker of one value of the axis that line styles tell apart."""

    dashes: str = "-"
    marker: str = "o"


def line_styles(rows: Sequence[Row], axis: str | None) -> dict[str, LineStyle]:
    """A line style per value of ``axis`` (in value order), the same in every figure of a report."""
    if axis is None:
        return {}
    values = distinct(rows, axis)
    return {v: LineStyle(LINE_STYLES[i % MAX_STYLES], MARKERS[i % len(MARKERS)]) for i, v in enumerate(values)}


def dodge(series: Sequence[Sequence[float]], log: bool) -> list[list[float]]:
    """The x values of several series with points at (nearly) the same x set slightly apart, in
    series order, so their error bars do not hide each other; the rest unchanged. A group spreads
    over at most :data:`DODGE_GAP` of the gap to the nearest other x, so no point drifts towards
    its neighbour's x."""
    moved = [[to_axis(x, log) for x in xs] for xs in series]
    flat = sorted((x, s, i) for s, xs in enumerate(moved) for i, x in enumerate(xs) if math.isfinite(x))
    if not flat:
        return [list(xs) for xs in series]
    span = flat[-1][0] - flat[0][0] or (0.3 if log else abs(flat[0][0]) * 0.5 or 1.0)
    step = DODGE * span
    clusters: list[list[tuple[float, int, int]]] = [[flat[0]]]
    for entry in flat[1:]:
        if entry[0] - clusters[-1][0][0] > step:
            clusters.append([])
        clusters[-1].append(entry)
    centres = [cluster[0][0] for cluster in clusters]
    gap = min((b - a for a, b in itertools.pairwise(centres)), default=span)
    for cluster in clusters:
        if len(cluster) < 2:
            continue
        apart = min(
            step,
            (DODGE_WIDTH * span if len(clusters) == 1 else min(DODGE_WIDTH * span, DODGE_GAP * gap))
            / (len(cluster) - 1),
        )
        for rank, (x, s, i) in enumerate(sorted(cluster, key=lambda e: e[1])):
            moved[s][i] = x + (rank - (len(cluster) - 1) / 2) * apart
    return [[from_axis(x, log) for x in xs] for xs in moved]


def to_axis(x: float, log: bool) -> float:
    """``x`` where the axis puts it (its log on a log axis)."""
    return math.log10(x) if log and x > 0 else x


def from_axis(x: float, log: bool) -> float:
    """The inverse of :func:`to_axis`."""
    return 10**x if log else x


def spans_decades(values: Sequence[float]) -> bool:
    """Whether positive ``values`` span a decade or more (worth a log axis)."""
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 10


def scale_axis(axes: Axes, column: str, values: Sequence[float], swept: bool) -> bool:
    """Scale and tick the x axis for ``values`` of ``column``: log where they span a decade;
    ticked at the swept values themselves (a handful), else at 1, 2 and 5 of each decade (log) or
    at round numbers (linear); fractions of loss as percent (``5``, titled ``(%)``). Returns whether it is log."""
    log = spans_decades(values)
    few = swept and 1 < len(set(values)) <= 8
    if log:
        axes.set_xscale("log")
        axes.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(float(d) for d in range(1, 10))))
        axes.xaxis.set_minor_formatter(NullFormatter())
    if few:
        axes.xaxis.set_major_locator(FixedLocator(sorted(set(values))))
    elif log:
        axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    else:
        axes.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    if column in PERCENT_COLUMNS:  # the axis title says "(%)"
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value * 100:.4g}"))
    else:
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.6g}"))
    return log


class Thinned(Formatter):
    """Another formatter with some ticks left unlabelled (their labels would collide)."""

    def __init__(self, inner: Formatter) -> None:
        self.inner = inner
        self.hidden: set[float] = set()

    def set_axis(self, axis: Any) -> None:  # matplotlib's stubs name private axis types
        """Give the inner formatter the axis too."""
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def set_locs(self, locs: list[float]) -> None:
        """Pass the tick positions on (to the formatter that labels them)."""
        self.inner.set_locs(locs)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return "" if round(x, 12) in self.hidden else self.inner(x, pos)


def thin_tick_labels(figure: Figure) -> None:
    """Leave unlabelled every tick whose label would overlap another's (the shorter, rounder
    label wins), on both axes of every visible panel; draws the figure to measure."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for axes in figure.axes:
        if axes.get_visible():
            for axis in (axes.xaxis, axes.yaxis):
                hide_colliding(axis, renderer)


def hide_colliding(axis: Axis, renderer: RendererBase) -> None:
    """Hide the labels of ``axis`` that overlap a label kept before them (shortest first)."""
    entries = sorted(
        (len(tick.label1.get_text()), tick.get_loc(), tick.label1.get_window_extent(renderer).padded(2))
        for tick in axis.get_major_ticks()
        if tick.label1.get_visible() and tick.label1.get_text()
    )
    kept: list[Bbox] = []
    hidden = set()
    for _, loc, box in entries:
        if any(box.overlaps(other) for other in kept):
            hidden.add(round(loc, 12))
        else:
            kept.append(box)
    if hidden:
        formatter = axis.get_major_formatter()
        if not isinstance(formatter, Thinned):
            formatter = Thinned(formatter)
            axis.set_major_formatter(formatter)
        formatter.hidden |= hidden


def fit_titles(figure: Figure) -> None:
    """Wrap (after its commas) and if need be shrink each panel title wider than its panel, so
    no two titles overlap; draws the figure to measure."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for axes in figure.axes:
        title, width = axes.title, axes.get_window_extent(renderer).width
        text = title.get_text()
        if not axes.get_visible() or not text:
            continue
        wide = title.get_window_extent(renderer).width
        if wide > width:
            title.set_text(wrap_parts(text, max(8, int(len(text) * width / wide) - 1)))
        size = float(title.get_fontsize())
        while title.get_window_extent(renderer).width > width and size > 6:
            size -= 1
            title.set_fontsize(size)


def wrap_parts(text: str, per_line: int) -> str:
    """``text`` broken into lines of at most ``per_line`` characters after its commas (a longer part keeps its line)."""
    lines: list[str] = []
    current = ""
    for part in text.split(", "):
        joined = f"{current}, {part}" if current else part
        if current and len(joined) > per_line:
            lines.append(f"{current},")
            current = part
        else:
            current = joined
    return "\n".join([*lines, current])
