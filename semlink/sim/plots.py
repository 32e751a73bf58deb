"""Figures of a run's rows: a metric against bpp (a panel per channel point, all panels on shared
axes) and against any column, with the 95 % intervals the rows carry and the clean-image
reference dashed; each figure as PNG and as PDF (vector)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from semlink.sim.rows import (
    AXIS_LABELS,
    KEY_COLUMN,
    REFERENCE_CODEC,
    Row,
    axis_columns,
    channel_point,
    codec_label,
    curve,
    group,
    mean,
    metric_label,
    number,
    panel_title,
    point_order,
)

COLOURS = (*(f"C{i}" for i in range(10)), *(to_hex(shade) for shade in colormaps["tab20"](range(1, 20, 2))))
"""Matplotlib's ten default colours, then the light shades of the same hues (tab20's): twenty variants
before a colour repeats."""
LEGEND_CHAR_IN = 0.075
LEGEND_HANDLE_IN = 0.8
LEGEND_ROW_IN = 0.25
"""Rough sizes of a figure legend's text (a character's width), its marker and gap, and a row, in inches."""
RATE_KNOBS = ("target_bpp", "quality", "tokens")
"""Codec settings that trace a codec's curve over bpp (named in its legend entry)."""
SETTING_WORDS = {
    "target_bpp": ("target", " bpp"),
    "quality": ("quality", ""),
    "tokens": ("tokens", ""),
    "map_scale": ("map ×", ""),
    "factor": ("low-res ×", ""),
    "snr_db": ("SNR", " dB"),
    "loss": ("loss", ""),
    "speed_kmh": ("", " km/h"),
}
"""How legends say a setting: ``target_bpp=0.1`` reads ``target 0.1 bpp``, ``map_scale=2`` ``map ×2``."""


def setting_text(column: str, value: str) -> str:
    """``target 0.1 bpp``, ``quality 50``, ``map ×2``, ``SNR 5 dB``, ``120 km/h``; else ``column value``."""
    if column not in SETTING_WORDS:
        return f"{column} {value}"
    before, after = SETTING_WORDS[column]
    space = "" if not before or before.endswith("×") else " "
    return f"{before}{space}{value}{after}".strip()


def knob_name(column: str) -> str:
    """A knob's name in words: ``target bpp``, ``quality``."""
    before, after = SETTING_WORDS.get(column, (column, ""))
    return f"{before}{after}".strip()


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


def readable_log_ticks(axes: Axes) -> None:
    """Ticks written plainly (``0.02``, not ``2×10⁻²``): at 1, 2 and 5 of each decade, or at every
    digit when the data span less than a decade."""
    low, high = axes.get_xlim()
    narrow = low > 0 and high / low < 10
    subs = tuple(float(d) for d in range(1, 10)) if narrow else (1.0, 2.0, 5.0)
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())


def clean_references(rows: Sequence[Row], y: str) -> list[tuple[str, float]]:
    """The clean-image level of ``y`` (the ``identity`` rows' mean), one per segmenter where the
    run compares segmenters: ``(label, value)`` pairs."""
    clean = [row for row in rows if row["codec"] == REFERENCE_CODEC]
    by_segmenter = group(clean, lambda row: row.get("segmenter") or "")
    references = []
    for segmenter, members in by_segmenter.items():
        value = mean(number(row.get(y)) for row in members)
        if value is not None:
            suffix = f", segmenter {segmenter}" if len(by_segmenter) > 1 else ""
            references.append((f"clean image{suffix}: {value:.3g}", value))
    return references


def legend_label(variant: str, members: Sequence[Row]) -> str:
    """``jpeg, target 0.1–0.4 bpp``: the codec variant and the knob that traces its curve."""
    for knob in RATE_KNOBS:
        values = sorted({v for row in members if (v := number(row.get(knob))) is not None})
        if len(values) > 1:
            return f"{variant}, {setting_text(knob, f'{values[0]:g}–{values[-1]:g}')}"
        if len(values) == 1:
            return f"{variant}, {setting_text(knob, f'{values[0]:g}')}"
    return variant


def codec_colours(rows: Sequence[Row]) -> dict[str, str]:
    """A fixed colour per codec variant, so a codec looks the same in every panel."""
    names = sorted({codec_label(row) for row in rows if row["codec"] != REFERENCE_CODEC})
    return {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(names)}


def draw_bpp_panel(
    axes: Axes, rows: Sequence[Row], colours: dict[str, str], references: Sequence[tuple[str, float]], y: str
) -> None:
    """One channel point: a line per codec variant of ``y`` over bpp (log), its 95 % interval as
    error bars where the rows carry one, the clean-image levels dashed."""
    for variant, members in group(rows, codec_label).items():
        points = [p for p in curve(members, KEY_COLUMN, "bpp", y) if 0 < p[0] < math.inf]
        if members[0]["codec"] == REFERENCE_CODEC or not points:
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        intervals = all(p[2] is not None and p[3] is not None for p in points)
        errors = [[p[1] - float(p[2] or 0) for p in points], [float(p[3] or 0) - p[1] for p in points]]
        axes.errorbar(
            xs,
            ys,
            yerr=errors if intervals else None,
            marker="o",
            capsize=3 if intervals else 0,
            color=colours[variant],
            label=legend_label(variant, members),
        )
    for index, (label, value) in enumerate(references):
        axes.axhline(value, linestyle="--", color=f"{0.3 + 0.15 * index:.2f}", label=label)
    axes.set_xscale("log")
    axes.grid(True, which="both", alpha=0.3)


def plot_vs_bpp(rows: Sequence[Row], y: str) -> Figure:
    """Metric ``y`` against bpp, one panel per channel point, every panel on the same axes."""
    panels = group(rows, lambda row: "\0".join(channel_point(row)))
    points = sorted((channel_point(members[0]) for members in panels.values()), key=point_order)
    constant = {p[3] for p in points}
    figure, axes = new_figure(len(points))
    colours = codec_colours(rows)
    everywhere = clean_references(rows, y)
    for ax, point in zip(axes, points, strict=True):
        members = panels["\0".join(point)]
        draw_bpp_panel(ax, members, colours, clean_references(members, y) or everywhere, y)
        shown = point if len(constant) > 1 else (*point[:3], "-")  # name only the parameters that vary
        ax.set_title(panel_title(shown), fontsize="medium")
    readable_log_ticks(axes[0])  # the axes are shared: once, after every panel is drawn
    for ax in axes:
        ax.label_outer()  # shared axes: labels on the outer panels only
    columns = min(3, len(axes))
    for index, ax in enumerate(axes):
        if index + columns >= len(axes):  # nothing below it: the bottom of its column
            ax.set_xlabel("bits per pixel (bpp)")
            ax.tick_params(labelbottom=True)
        if index % columns == 0:
            ax.set_ylabel(interval_label(rows, y))
    handles, labels = axes[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    for ax in axes[1:]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if seen:
        add_legend(figure, seen)
    figure.suptitle(f"{metric_label(y)} against bits per pixel")
    return figure


def add_legend(figure: Figure, entries: dict[str, Artist]) -> None:
    """A legend under the panels in as many columns (at most four) as fit, the figure grown to hold it."""
    entry_in = max(map(len, entries)) * LEGEND_CHAR_IN + LEGEND_HANDLE_IN
    width, height = figure.get_size_inches()
    columns = max(1, min(4, len(entries), int(max(width, 2 * entry_in) // entry_in)))
    rows = math.ceil(len(entries) / columns)
    figure.set_size_inches(max(width, columns * entry_in + 0.3), height + rows * LEGEND_ROW_IN)
    figure.legend(list(entries.values()), list(entries.keys()), loc="outside lower center", ncols=columns)


def interval_label(rows: Sequence[Row], y: str) -> str:
    """The metric's axis label, saying so when the rows carry 95 % intervals."""
    shown = metric_label(y)
    has = any(number(row.get(f"{y}_lo")) is not None for row in rows)
    return f"{shown} (95 % interval)" if has else shown


def series_columns(header: Sequence[str], x: str, by: str | None) -> list[str]:
    """The columns whose values tell the lines of a metric-against-``x`` plot apart: ``by``, or
    ``codec`` and every axis column other than ``x``."""
    if by is not None:
        return [by]
    return ["codec", *(c for c in axis_columns(header) if c != x)]


def series_label(row: Row, columns: Sequence[str], rows: Sequence[Row]) -> str:
    """``"jpeg, target 0.1 bpp, 120 km/h"``: the values of the columns that vary across ``rows``
    (a setting the row's codec does not have, an empty cell, is left out)."""
    varying = [c for c in columns if len({r.get(c) or "-" for r in rows}) > 1 or c == "codec"]
    parts = [
        row.get(c) or "-" if c == "codec" else setting_text(c, row[c]) for c in varying if c == "codec" or row.get(c)
    ]
    return ", ".join(parts)


def plot_against(rows: Sequence[Row], header: Sequence[str], x: str, by: str | None, y: str) -> Figure:
    """Metric ``y`` against column ``x`` (numeric, or categories in first-seen order), a line per
    series, with the 95 % interval as a band where the rows carry one."""
    numeric = all(number(row.get(x)) is not None for row in rows if row.get(x))
    categories = list(dict.fromkeys(row.get(x) or "-" for row in rows))
    columns = series_columns(header, x, by)
    figure, (axes,) = new_figure(1, width=9.0, height=4.5)
    for name, members in group(rows, lambda row: series_label(row, columns, rows)).items():
        points = []
        for key, subset in group(members, lambda row: row.get(x) or "-").items():
            position = number(key) if numeric else float(categories.index(key))
            value = mean(number(r.get(y)) for r in subset)
            if position is not None and value is not None:
                low = mean(number(r.get(f"{y}_lo")) for r in subset)
                high = mean(number(r.get(f"{y}_hi")) for r in subset)
                points.append((position, value, low, high))
        points.sort(key=lambda p: p[0])
        if not points:
            continue
        style = "--" if members[0].get("codec") == REFERENCE_CODEC else "-"
        (line,) = axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", linestyle=style, label=name)
        lows, highs = [p[2] for p in points], [p[3] for p in points]
        if all(v is not None for v in lows + highs):
            axes.fill_between(
                [p[0] for p in points],
                [float(v or 0.0) for v in lows],
                [float(v or 0.0) for v in highs],
                color=line.get_color(),
                alpha=0.18,
                linewidth=0,
            )
    if not numeric:
        axes.set_xticks(range(len(categories)), categories)
    label = AXIS_LABELS.get(x, x)
    axes.set_xlabel(label)
    axes.set_ylabel(interval_label(rows, y).replace("interval)", "interval shaded)"))
    axes.set_title(f"{metric_label(y)} against {label.split(' =')[0].split(' (')[0]}")
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    return figure
