"""Reports of a finished run: plots and a markdown table made from ``results.csv``.

``write_report(folder)`` reads ``folder/results.csv`` and writes beside it ``miou_vs_bpp.png`` (one
panel per channel point), ``miou_vs_loss.png`` and ``miou_vs_snr.png`` (only when the run swept
more than one loss or SNR value) and ``report.md`` (a table of every row with links to the plots).
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

Row = dict[str, str]
ChannelPoint = tuple[str, str, str, str]

REQUIRED_COLUMNS = ("codec", "rate", "bpp", "miou")
PACKETS = "packets_lost/packets_sent"
TABLE_COLUMNS = (
    "codec",
    "options",
    "rate",
    "channel",
    "snr_db",
    "loss",
    "frames",
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


def write_report(folder: Path) -> list[Path]:
    """Write the plots and ``report.md`` of a finished run.

    :param folder: the run's output folder, holding ``results.csv``.
    :returns: the paths written, plots first, ``report.md`` last.
    :raises ReportError: when ``results.csv`` is missing, empty or lacks the columns a report needs.
    """
    header, rows = read_results(folder)
    written = [plot_miou_vs_bpp(rows, folder / BPP_PLOT)]
    if len(axis_values(rows, "loss")) > 1:
        written.append(plot_miou_against(rows, "loss", folder / LOSS_PLOT, "packet loss"))
    if len(axis_values(rows, "snr_db")) > 1:
        written.append(plot_miou_against(rows, "snr_db", folder / SNR_PLOT, "SNR = Es/N0 (dB)"))
    written.append(write_markdown(folder, header, rows, written))
    return written


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
    """The codec's name with its options, if any (``sqgan map_backup=8``): one line per variant."""
    options = row.get("options") or ""
    return f"{row['codec']} {options}".strip()


def group(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, list[Row]]:
    """Rows grouped by ``key``, groups and rows in first-seen order."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def curve(rows: Sequence[Row], by: str, x_column: str) -> list[tuple[float, float]]:
    """``(x, mIoU)`` points sorted by x: rows grouped by column ``by`` (seeds averaged), both axes means.

    Points with a missing x or mIoU are left out.
    """
    points = []
    for members in group(rows, lambda row: row.get(by, "")).values():
        x = mean(number(row.get(x_column)) for row in members)
        y = mean(number(row.get("miou")) for row in members)
        if x is not None and y is not None:
            points.append((x, y))
    return sorted(points)


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
        points = [(x, y) for x, y in curve(members, "rate", "bpp") if 0 < x < math.inf]
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


def plot_miou_vs_bpp(rows: Sequence[Row], path: Path) -> Path:
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


SERIES_COLUMNS = ("channel", "snr_db", "loss")
"""Columns that can tell two series of an mIoU-against-x plot apart, besides the other channel parameters."""
PARAM = re.compile(r"(\w+)=(\{[^}]*\}|\S+)")


def channel_params_of(row: Row) -> dict[str, str]:
    """The row's ``channel_params`` as name -> text (a ``{...}`` value kept whole)."""
    return dict(PARAM.findall(row.get("channel_params") or ""))


def varying_settings(rows: Sequence[Row], x: str) -> list[str]:
    """The columns and channel parameters other than ``x`` whose values differ across ``rows``."""
    columns = [c for c in SERIES_COLUMNS if c != x and len({row.get(c) or "-" for row in rows}) > 1]
    params = [channel_params_of(row) for row in rows]
    names = sorted({name for p in params for name in p} - {x, "loss", "snr_db"})
    return columns + [n for n in names if len({p.get(n, "-") for p in params}) > 1]


def series_label(row: Row, varying: Sequence[str]) -> str:
    """``"jpeg @ 50 (speed_kmh=120)"``: the codec, its rate and the settings that vary across the run."""
    rate = number(row.get("rate"))
    label = f"{codec_label(row)} @ {rate:g}" if rate is not None else codec_label(row)
    params = channel_params_of(row)
    extra = " ".join(
        f"{name}={row.get(name) or '-' if name in SERIES_COLUMNS else params.get(name, '-')}" for name in varying
    )
    return f"{label} ({extra})" if extra else label


def plot_miou_against(rows: Sequence[Row], x: str, path: Path, label: str) -> Path:
    """mIoU against a channel axis (``loss`` or ``snr_db``): a line per (codec, rate, other settings)."""
    swept = [row for row in rows if number(row.get(x)) is not None]
    varying = varying_settings(swept, x)
    markers = codec_styles(swept, MARKERS)
    figure, (axes,) = new_figure(1, width=9.0, height=4.5)
    for name, members in group(swept, lambda row: series_label(row, varying)).items():
        codec = codec_label(members[0])
        style = "--" if codec == REFERENCE_CODEC else "-"
        points = curve(members, x, x)
        if not points:
            continue
        axes.plot(*zip(*points, strict=True), marker=markers[codec], linestyle=style, label=name)
    axes.set_xlabel(label)
    axes.set_ylabel("mIoU")
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
    return [
        column
        for column in TABLE_COLUMNS
        if (column in present or (column == PACKETS and packets)) and (radio or column not in RADIO_COLUMNS)
    ]


def cell(row: Row, column: str) -> str:
    """One table cell: rounded when numeric, ``"-"`` when missing."""
    if column == PACKETS:
        return f"{row.get('packets_lost') or '-'}/{row.get('packets_sent') or '-'}"
    text = (row.get(column) or "").strip()
    if not text:
        return "-"
    if column in DECIMALS:
        value = number(text)
        return "-" if value is None else f"{value:.{DECIMALS[column]}f}"
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
