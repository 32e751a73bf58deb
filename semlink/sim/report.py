"""Reports of a finished run: plots and a markdown table made from ``results.csv``.

``write_report(folder)`` reads ``folder/results.csv`` and writes beside it ``miou_vs_bpp.png`` (one
panel per channel point), ``miou_vs_<axis>.png`` for each numeric channel axis the run swept (loss,
SNR, speed, ...) and ``report.md`` (a table of every row with links to the plots).
``write_report(folder, x="link.mtu", by="codec")`` draws mIoU against any column instead, a line
per value of ``by``. Where the rows carry intervals (``miou_lo``, ``miou_hi``) the lines get bands.
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

REQUIRED_COLUMNS = ("codec", "bpp", "miou")
PACKETS = "packets_lost/packets_sent"
TABLE_COLUMNS = (
    "codec",
    "frames",
    "repeats",
    "bpp",
    "bpp_wire",
    "miou",
    "psnr",
    "ms_ssim",
    PACKETS,
    "frames_concealed",
    "latency_ms_p50",
    "latency_ms_p95",
    "mcs",
    "harq_tx_mean",
    "airtime_ms",
    "deadline_misses",
)
RADIO_COLUMNS = ("mcs", "harq_tx_mean", "airtime_ms", "deadline_misses")
"""Shown only when some row has a radio (their CSV cells are empty otherwise)."""
DECIMALS = {"bpp": 4, "bpp_wire": 4, "miou": 3, "psnr": 2, "ms_ssim": 4, "latency_ms_p50": 1, "latency_ms_p95": 1}
REFERENCE_CODEC = "identity"
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
COLOURS = tuple(f"C{i}" for i in range(10))
BPP_PLOT = "miou_vs_bpp.png"
LOSS_PLOT = "miou_vs_loss.png"
SNR_PLOT = "miou_vs_snr.png"
REPORT = "report.md"


class ReportError(ValueError):
    """A run folder that cannot be reported on; the message says why in one line."""


class MissingResultsError(ReportError, FileNotFoundError):
    """The folder has no ``results.csv``."""


AXIS_LABELS = {"loss": "packet loss", "snr_db": "SNR = Es/N0 (dB)", "speed_kmh": "speed (km/h)"}


def write_report(folder: Path, x: str | None = None, by: str | None = None) -> list[Path]:
    """Write the plots and ``report.md`` of a finished run.

    :param folder: the run's output folder, holding ``results.csv``.
    :param x: draw mIoU against this column (an axis, or ``bpp``) instead of the default plots.
    :param by: with ``x``: one line per value of this column (default: every other varying axis).
    :returns: the paths written, plots first, ``report.md`` last.
    :raises ReportError: when ``results.csv`` is missing, empty or lacks the columns a report needs.
    """
    header, rows = read_results(folder)
    if x is not None:
        for column in (x, by):
            if column is not None and column not in header:
                known = ", ".join(["bpp", *axis_columns(header)])
                raise ReportError(f"results.csv has no column {column!r}; choose one of: {known}")
        written = [plot_miou_against(rows, header, x, folder / f"miou_vs_{slug(x)}.png", by)]
    else:
        written = [plot_miou_vs_bpp(rows, header, folder / BPP_PLOT)]
        for axis in axis_columns(header):
            if axis in channel_axis_names(header) and len(axis_values(rows, axis)) > 1:
                written.append(plot_miou_against(rows, header, axis, folder / f"miou_vs_{slug(axis)}.png", None))
    written.append(write_markdown(folder, header, rows, written))
    return written


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


def curve(rows: Sequence[Row], by: str, x_column: str) -> list[tuple[float, float, float | None, float | None]]:
    """``(x, mIoU, low, high)`` points sorted by x: rows grouped by column ``by``, each a mean;
    ``low``/``high`` the mean of the rows' 95 % interval bounds (None where the rows have none).

    Points with a missing x or mIoU are left out.
    """
    points = []
    for members in group(rows, lambda row: row.get(by, "")).values():
        x = mean(number(row.get(x_column)) for row in members)
        y = mean(number(row.get("miou")) for row in members)
        low = mean(number(row.get("miou_lo")) for row in members)
        high = mean(number(row.get("miou_hi")) for row in members)
        if x is not None and y is not None:
            points.append((x, y, low, high))
    return sorted(points, key=lambda p: p[0])


def codec_styles(rows: Iterable[Row], styles: Sequence[str]) -> dict[str, str]:
    """A fixed style (colour, marker) per codec, cycling through ``styles``, so a codec looks the same everywhere."""
    names = sorted({codec_label(row) for row in rows})
    return {name: styles[i % len(styles)] for i, name in enumerate(names)}


def identity_level(panel_rows: Sequence[Row], all_rows: Sequence[Row]) -> float | None:
    """Clean-image mIoU for a panel: its own ``identity`` rows, else every ``identity`` row of the run."""
    own = [row for row in panel_rows if row["codec"] == REFERENCE_CODEC]
    rows = own or [row for row in all_rows if row["codec"] == REFERENCE_CODEC]
    return mean(number(row.get("miou")) for row in rows)


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


def draw_bpp_panel(axes: Axes, rows: Sequence[Row], colours: dict[str, str], reference: float | None) -> None:
    """One channel point: a line per codec over bpp (log), the identity level as a dashed line."""
    for codec, members in group(rows, codec_label).items():
        points = [(x, y) for x, y, *_ in curve(members, KEY_COLUMN, "bpp") if 0 < x < math.inf]
        if codec == REFERENCE_CODEC or not points:
            continue
        axes.plot(*zip(*points, strict=True), marker="o", color=colours[codec], label=codec)
    if reference is not None:
        label = f"{REFERENCE_CODEC} (clean image) {reference:.3f}"
        axes.axhline(reference, linestyle="--", color="0.4", label=label)
    axes.set_xscale("log")
    axes.set_xlabel("bpp")
    axes.set_ylabel("mIoU")
    axes.grid(True, which="both", alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")


def plot_miou_vs_bpp(rows: Sequence[Row], header: Sequence[str], path: Path) -> Path:
    """mIoU against bpp, one panel per channel point; returns ``path``."""
    panels = group(rows, lambda row: "\0".join(channel_point(row)))
    points = sorted((channel_point(members[0]) for members in panels.values()), key=point_order)
    constant = {p[3] for p in points}
    figure, axes = new_figure(len(points))
    colours = codec_styles(rows, COLOURS)
    for ax, point in zip(axes, points, strict=True):
        members = panels["\0".join(point)]
        draw_bpp_panel(ax, members, colours, identity_level(members, rows))
        shown = point if len(constant) > 1 else (*point[:3], "-")  # name only the parameters that vary
        ax.set_title(panel_title(shown))
    figure.suptitle("mIoU against bits per pixel")
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
    """``"jpeg, target_bpp 0.1, speed_kmh 120"``: the values of the columns that vary across ``rows``."""
    varying = [c for c in columns if len({r.get(c) or "-" for r in rows}) > 1 or c == "codec"]
    parts = [row.get(c) or "-" if c == "codec" else f"{c} {row.get(c) or '-'}" for c in varying]
    return ", ".join(parts)


def plot_miou_against(rows: Sequence[Row], header: Sequence[str], x: str, path: Path, by: str | None) -> Path:
    """mIoU against column ``x`` (numeric, or categories in first-seen order), a line per series,
    with the 95 % interval as a band where the rows carry one."""
    numeric = all(number(row.get(x)) is not None for row in rows if row.get(x))
    categories = list(dict.fromkeys(row.get(x) or "-" for row in rows))
    columns = series_columns(header, x, by)
    figure, (axes,) = new_figure(1, width=9.0, height=4.5)
    for name, members in group(rows, lambda row: series_label(row, columns, rows)).items():
        points = []
        for key, subset in group(members, lambda row: row.get(x) or "-").items():
            position = number(key) if numeric else float(categories.index(key))
            y = mean(number(r.get("miou")) for r in subset)
            if position is not None and y is not None:
                low = mean(number(r.get("miou_lo")) for r in subset)
                high = mean(number(r.get("miou_hi")) for r in subset)
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
    axes.set_ylabel("mIoU (95 % interval shaded)" if "miou_lo" in header else "mIoU")
    axes.set_title(f"mIoU against {label.split(' =')[0].split(' (')[0]}")
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
    chosen = [
        column
        for column in TABLE_COLUMNS
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
    if column in DECIMALS:
        value = number(text)
        if value is None:
            return "-"
        low, high = number(row.get(f"{column}_lo")), number(row.get(f"{column}_hi"))
        digits = DECIMALS[column]
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
    lines += ["", *markdown_table(header, rows), ""]
    path = folder / REPORT
    path.write_text("\n".join(lines))
    return path
