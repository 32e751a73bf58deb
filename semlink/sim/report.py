"""Reports of a finished run: plots and a markdown table made from ``results.csv``.

``write_report(folder)`` reads ``folder/results.csv`` and writes beside it ``<y>_vs_bpp.png`` (one
panel per channel point), ``<y>_vs_<axis>.png`` for each numeric channel axis the run swept (loss,
SNR, speed, ...) and ``report.md`` (a table of every row with links to the plots). ``y`` is the
metric plotted: ``miou`` where the run has it, else its first metric, or any metric column asked
for. ``write_report(folder, x="link.mtu", by="codec")`` draws it against any column instead, a
line per value of ``by``. Where the rows carry intervals (``miou_lo``, ``miou_hi``) the lines get
bands.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
COLOURS = tuple(f"C{i}" for i in range(10))
REPORT = "report.md"


class ReportError(ValueError):
    """A run folder that cannot be reported on; the message says why in one line."""


class MissingResultsError(ReportError, FileNotFoundError):
    """The folder has no ``results.csv``."""


AXIS_LABELS = {"loss": "packet loss", "snr_db": "SNR = Es/N0 (dB)", "speed_kmh": "speed (km/h)"}


def write_report(folder: Path, x: str | None = None, by: str | None = None, y: str | None = None) -> list[Path]:
    """Write the plots and ``report.md`` of a finished run.

    :param folder: the run's output folder, holding ``results.csv``.
    :param x: draw the metric against this column (an axis, or ``bpp``) instead of the default plots.
    :param by: with ``x``: one line per value of this column (default: every other varying axis).
    :param y: the metric column plotted (default ``miou``, else the run's first metric).
    :returns: the paths written, plots first, ``report.md`` last.
    :raises ReportError: when ``results.csv`` is missing, empty or lacks the columns a report needs.
    """
    header, rows = read_results(folder)
    y = plotted_metric(header, y)
    if x is not None:
        for column in (x, by):
            if column is not None and column not in header:
                known = ", ".join(["bpp", *axis_columns(header)])
                raise ReportError(f"results.csv has no column {column!r}; choose one of: {known}")
        written = [plot_against(rows, header, x, folder / f"{y}_vs_{slug(x)}.png", by, y)]
    else:
        written = [plot_vs_bpp(rows, header, folder / f"{y}_vs_bpp.png", y)]
        for axis in axis_columns(header):
            if axis in channel_axis_names(header) and len(axis_values(rows, axis)) > 1:
                written.append(plot_against(rows, header, axis, folder / f"{y}_vs_{slug(axis)}.png", None, y))
    written.append(write_markdown(folder, header, rows, written))
    return written


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


def codec_styles(rows: Iterable[Row], styles: Sequence[str]) -> dict[str, str]:
    """A fixed style (colour, marker) per codec, cycling through ``styles``, so a codec looks the same everywhere."""
    names = sorted({codec_label(row) for row in rows})
    return {name: styles[i % len(styles)] for i, name in enumerate(names)}


def identity_level(panel_rows: Sequence[Row], all_rows: Sequence[Row], y: str = "miou") -> float | None:
    """Clean-image value of ``y`` for a panel: its own ``identity`` rows, else every ``identity`` row of the run."""
    own = [row for row in panel_rows if row["codec"] == REFERENCE_CODEC]
    rows = own or [row for row in all_rows if row["codec"] == REFERENCE_CODEC]
    return mean(number(row.get(y)) for row in rows)


def new_figure(panels: int, width: float = 5.0, height: float = 3.8) -> tuple[Figure, list[Axes]]:
    """A figure on the Agg canvas with ``panels`` axes in a grid of at most three columns; spare axes hidden."""
    columns = min(3, panels)
    grid_rows = math.ceil(panels / columns)
    figure = Figure(figsize=(width * columns, height * grid_rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(grid_rows, columns, squeeze=False).flat)
    for spare in axes[panels:]:
        spare.set_visible(False)
    return figure, axes[:panels]


def draw_bpp_panel(
    axes: Axes, rows: Sequence[Row], colours: dict[str, str], reference: float | None, y: str = "miou"
) -> None:
    """One channel point: a line per codec of ``y`` over bpp (log), the identity level as a dashed line."""
    for codec, members in group(rows, codec_label).items():
        points = [(px, py) for px, py, *_ in curve(members, KEY_COLUMN, "bpp", y) if 0 < px < math.inf]
        if codec == REFERENCE_CODEC or not points:
            continue
        axes.plot(*zip(*points, strict=True), marker="o", color=colours[codec], label=codec)
    if reference is not None:
        label = f"{REFERENCE_CODEC} (clean image) {reference:.3f}"
        axes.axhline(reference, linestyle="--", color="0.4", label=label)
    axes.set_xscale("log")
    axes.set_xlabel("bpp")
    axes.set_ylabel(metric_label(y))
    axes.grid(True, which="both", alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")


def plot_vs_bpp(rows: Sequence[Row], header: Sequence[str], path: Path, y: str = "miou") -> Path:
    """Metric ``y`` against bpp, one panel per channel point; returns ``path``."""
    panels = group(rows, lambda row: "\0".join(channel_point(row)))
    points = sorted((channel_point(members[0]) for members in panels.values()), key=point_order)
    constant = {p[3] for p in points}
    figure, axes = new_figure(len(points))
    colours = codec_styles(rows, COLOURS)
    for ax, point in zip(axes, points, strict=True):
        members = panels["\0".join(point)]
        draw_bpp_panel(ax, members, colours, identity_level(members, rows, y), y)
        shown = point if len(constant) > 1 else (*point[:3], "-")  # name only the parameters that vary
        ax.set_title(panel_title(shown))
    figure.suptitle(f"{metric_label(y)} against bits per pixel")
    figure.savefig(path, dpi=110)
    return path


def axis_values(rows: Iterable[Row], column: str) -> set[float]:
    """The distinct numeric values of ``column`` (``loss``, ``snr_db``) in the run."""
    return {value for row in rows if (value := number(row.get(column))) is not None}


def series_columns(header: Sequence[str], x: str, by: str | None) -> list[str]:
    """The columns whose values tell the lines of an mIoU-against-``x`` plot apart: ``by``, or
    ``codec`` and every axis column other than ``x``."""
    if by is not None:
        return [by]
    return ["codec", *(c for c in axis_columns(header) if c != x)]


def series_label(row: Row, columns: Sequence[str], rows: Sequence[Row]) -> str:
    """``"jpeg, target_bpp 0.1, speed_kmh 120"``: the values of the columns that vary across ``rows``
    (a setting the row's codec does not have, an empty cell, is left out)."""
    varying = [c for c in columns if len({r.get(c) or "-" for r in rows}) > 1 or c == "codec"]
    parts = [row.get(c) or "-" if c == "codec" else f"{c} {row[c]}" for c in varying if c == "codec" or row.get(c)]
    return ", ".join(parts)


def plot_against(
    rows: Sequence[Row], header: Sequence[str], x: str, path: Path, by: str | None, y_column: str = "miou"
) -> Path:
    """Metric ``y_column`` against column ``x`` (numeric, or categories in first-seen order), a line
    per series, with the 95 % interval as a band where the rows carry one."""
    numeric = all(number(row.get(x)) is not None for row in rows if row.get(x))
    categories = list(dict.fromkeys(row.get(x) or "-" for row in rows))
    columns = series_columns(header, x, by)
    figure, (axes,) = new_figure(1, width=9.0, height=4.5)
    for name, members in group(rows, lambda row: series_label(row, columns, rows)).items():
        points = []
        for key, subset in group(members, lambda row: row.get(x) or "-").items():
            position = number(key) if numeric else float(categories.index(key))
            y = mean(number(r.get(y_column)) for r in subset)
            if position is not None and y is not None:
                low = mean(number(r.get(f"{y_column}_lo")) for r in subset)
                high = mean(number(r.get(f"{y_column}_hi")) for r in subset)
                points.append((position, y, low, high))
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
    shown = metric_label(y_column)
    axes.set_ylabel(f"{shown} (95 % interval shaded)" if f"{y_column}_lo" in header else shown)
    axes.set_title(f"{shown} against {label.split(' =')[0].split(' (')[0]}")
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.savefig(path, dpi=110)
    return path


def table_columns(header: Sequence[str], rows: Sequence[Row] = ()) -> list[str]:
    """The report's table columns that the CSV has (the packet column when either count is there;
    the radio's columns only when some row has a radio)."""
    present = set(header)
    packets = bool({"packets_lost", "packets_sent"} & present)
    radio = any((row.get("harq_tx_mean") or "").strip() for row in rows)
    metrics = [c for c in metric_columns(header) if not c.startswith("iou_")]  # per-class IoU stays in the CSV
    chosen = [
        column
        for column in (*LEADING_COLUMNS, *metrics, *TRAILING_COLUMNS)
        if (column in present or (column == PACKETS and packets)) and (radio or column not in RADIO_COLUMNS)
    ]
    repeated = any((row.get("repeats") or "1") != "1" for row in rows)
    chosen = [c for c in chosen if c != "repeats" or repeated]
    return [chosen[0], *axis_columns(header), *chosen[1:]]


def cell(row: Row, column: str) -> str:
    """One table cell: rounded when numeric, ``"-"`` when missing."""
    if column == PACKETS:
        return f"{row.get('packets_lost') or '-'}/{row.get('packets_sent') or '-'}"
    text = (row.get(column) or "").strip()
    if not text:
        return "-"
    if column in DECIMALS or f"{column}_lo" in row:
        value = number(text)
        if value is None:
            return "-"
        low, high = number(row.get(f"{column}_lo")), number(row.get(f"{column}_hi"))
        digits = DECIMALS.get(column, 4)
        interval = f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else ""
        return f"{value:.{digits}f}{interval if (row.get('repeats') or '1') != '1' else ''}"
    return text.replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Row]) -> list[str]:
    """The lines of a markdown table of ``rows``."""
    columns = table_columns(header, rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row, column) for column in columns) + " |" for row in rows]
    return lines


def write_markdown(folder: Path, header: Sequence[str], rows: Sequence[Row], plots: Sequence[Path]) -> Path:
    """Write ``folder/report.md``: title, plot links and the table of every row; returns its path."""
    lines = [f"# semlink report: {folder.resolve().name}", "", f"{len(rows)} points from `results.csv`.", ""]
    lines += [f"![{plot.stem.replace('_', ' ')}]({plot.name})" for plot in plots]
    lines += ["", *markdown_table(header, rows), "", *rejection_lines(rows)]
    path = folder / REPORT
    path.write_text("\n".join(lines))
    return path


def rejection_lines(rows: Sequence[Row]) -> list[str]:
    """A warning naming each row during which the channel or the receiver turned messages away
    (none when no row did, or for results written before the ``rejected`` column)."""
    flagged = [r for r in rows if r.get("rejected", "0") not in ("", "0")]
    if not flagged:
        return []
    lines = [
        f"**{len(flagged)} points saw rejected traffic** (malformed messages or another run's; "
        "they were counted and dropped before touching any state, so the other columns are unaffected):",
        "",
    ]
    for row in flagged:
        lines.append(
            f"- {row['codec']} {row.get('channel_params', '')}: {row['rejected']} ({row.get('rejected_by', '')})"
        )
    return [*lines, ""]
