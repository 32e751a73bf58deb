"""Reports of finished runs: figures, ``report.md`` and ``report.html`` made from ``results.csv``.

``write_report(folder)`` reads ``folder/results.csv`` and writes beside it ``<y>_vs_bpp.png`` and
``.pdf`` (a panel per channel point, on shared axes), ``<y>_vs_<axis>`` for each numeric channel
axis the run swept (loss, SNR, speed, ...), ``report.md`` (a table of every row with the plots) and
``report.html`` (the same, to open in a browser). ``y`` is the metric plotted: ``miou`` where the
run has it, else its first metric, or any metric column asked for. ``write_report(folder,
x="link.mtu", by="codec")`` draws it against any column instead, a line per value of ``by``.
``write_report(out, runs=[a, b])`` overlays several runs (each row tagged with its folder's name
in a ``run`` column). Where the rows carry intervals (``miou_lo``, ``miou_hi``) the lines get
error bars or bands. The drawing is in :mod:`semlink.sim.plots`, the row handling in
:mod:`semlink.sim.rows`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from semlink.sim.plots import plot_against, plot_vs_bpp, save_figure
from semlink.sim.rows import (
    DECIMALS,
    LEADING_COLUMNS,
    PACKETS,
    RADIO_COLUMNS,
    TRAILING_COLUMNS,
    MissingResultsError,
    ReportError,
    Row,
    axis_columns,
    axis_values,
    channel_axis_names,
    metric_columns,
    number,
    plotted_metric,
    read_results,
    slug,
)
from semlink.workcache import WORK_FILE, work_lines

__all__ = ["MissingResultsError", "ReportError", "cell", "write_report"]

REPORT = "report.md"
HTML_REPORT = "report.html"
RUN_COLUMN = "run"


def write_report(
    folder: Path, x: str | None = None, by: str | None = None, y: str | None = None, runs: Sequence[Path] = ()
) -> list[Path]:
    """Write the figures, ``report.md`` and ``report.html`` of a finished run (or of several).

    :param folder: the run's output folder, holding ``results.csv``; with ``runs``, where the
        overlay is written (created if needed).
    :param x: draw the metric against this column (an axis, or ``bpp``) instead of the default plots.
    :param by: with ``x``: one line per value of this column (default: every other varying axis).
    :param y: the metric column plotted (default ``miou``, else the run's first metric).
    :param runs: overlay these run folders instead of reading ``folder``.
    :returns: the paths written: each figure's PNG and PDF, then ``report.md`` and ``report.html``.
    :raises ReportError: when a ``results.csv`` is missing, empty or lacks the columns a report needs.
    """
    header, rows = overlaid(runs) if runs else read_results(folder)
    folder.mkdir(parents=True, exist_ok=True)
    y = plotted_metric(header, y)
    if x is not None:
        for column in (x, by):
            if column is not None and column not in header:
                known = ", ".join(["bpp", *axis_columns(header)])
                raise ReportError(f"results.csv has no column {column!r}; choose one of: {known}")
        figures = [save_figure(plot_against(rows, header, x, by, y), folder / f"{y}_vs_{slug(x)}.png")]
    else:
        figures = [save_figure(plot_vs_bpp(rows, y), folder / f"{y}_vs_bpp.png")]
        for axis in axis_columns(header):
            if axis in channel_axis_names(header) and len(axis_values(rows, axis)) > 1:
                figure = plot_against(rows, header, axis, None, y)
                figures.append(save_figure(figure, folder / f"{y}_vs_{slug(axis)}.png"))
    pngs = [pair[0] for pair in figures]
    title = folder.resolve().name if not runs else " vs ".join(run.resolve().name for run in runs)
    markdown = write_markdown(folder, title, header, rows, pngs)
    page = write_html(folder, title, header, rows, pngs)
    return [*(path for pair in figures for path in pair), markdown, page]


def overlaid(runs: Sequence[Path]) -> tuple[list[str], list[Row]]:
    """The rows of several runs in one table, each tagged with its folder's name (a ``run`` axis).

    :raises ReportError: for two runs whose folders have the same name (their rows could not be told apart).
    """
    names = [run.resolve().name for run in runs]
    if len(set(names)) < len(names):
        raise ReportError(f"the runs to overlay must have folders of different names, not {', '.join(names)}")
    header: list[str] = []
    rows: list[Row] = []
    for run, name in zip(runs, names, strict=True):
        own_header, own_rows = read_results(run)
        for column in own_header:
            if column not in header:
                header.append(column)
        rows += [{"codec": row["codec"], RUN_COLUMN: name, **row} for row in own_rows]
    header.insert(header.index("codec") + 1, RUN_COLUMN)
    return header, [{column: row.get(column, "") for column in header} for row in rows]


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


def write_markdown(folder: Path, title: str, header: Sequence[str], rows: Sequence[Row], plots: Sequence[Path]) -> Path:
    """Write ``folder/report.md``: title, the plots and the table of every row; returns its path."""
    lines = [f"# semlink report: {title}", "", f"{len(rows)} points from `results.csv`.", ""]
    for plot in plots:
        lines.append(f"![{plot.stem.replace('_', ' ')}]({plot.name}) ([PDF]({plot.with_suffix('.pdf').name}))")
    lines += ["", *markdown_table(header, rows), "", *rejection_lines(rows), *work_section(folder)]
    path = folder / REPORT
    path.write_text("\n".join(lines))
    return path


def work_section(folder: Path) -> list[str]:
    """The report's account of the last run's work (``work.json``): per stage, values computed,
    cache hits and seconds; nothing for a folder without one."""
    path = folder / WORK_FILE
    if not path.is_file():
        return []
    try:
        work = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    cache = work.get("cache")
    lines = ["## Work of the last run", "", f"Wall time {float(work.get('wall_s', 0)):.1f} s; work cache: "]
    lines[-1] += f"`{cache}`." if cache else "off."
    return [*lines, "", *(f"- {line}" for line in work_lines(work)), ""]


PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}img{max-width:100%;border:1px solid #ddd}"
    "figure{margin:1.5em 0}table{border-collapse:collapse;font-size:0.85em}"
    "td,th{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right}th{background:#f3f3f3}"
    ".warning{background:#fff4e5;border-left:4px solid #f0a020;padding:0.5em 1em}"
)
LOADED_SCRIPT = (
    "window.addEventListener('load',function(){var i=document.images,n=0;"
    "for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0){n++;}}"
    "document.body.setAttribute('data-images-loaded',n+'/'+i.length);});"
)
"""Marks the page with how many of its figures loaded (a missing PNG shows as ``1/2``)."""


def write_html(folder: Path, title: str, header: Sequence[str], rows: Sequence[Row], plots: Sequence[Path]) -> Path:
    """Write ``folder/report.html``: the figures (PNG, with a link to each PDF), the table and any
    warning, in one page with relative links; returns its path."""
    escape = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>semlink report: {escape(title)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>semlink report: {escape(title)}</h1>",
        f"<p>{len(rows)} points from <code>results.csv</code>.</p>",
    ]
    for plot in plots:
        caption = escape(plot.stem.replace("_", " "))
        pdf = escape(plot.with_suffix(".pdf").name)
        parts.append(
            f'<figure><img src="{escape(plot.name)}" alt="{caption}">'
            f'<figcaption>{caption} (<a href="{pdf}">PDF</a>)</figcaption></figure>'
        )
    columns = table_columns(header, rows)
    parts.append("<table><thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr></thead><tbody>")
    for row in rows:
        cells = (escape(cell(row, column).replace("\\|", "|")) for column in columns)
        parts.append("<tr>" + "".join(f"<td>{text}</td>" for text in cells) + "</tr>")
    parts.append("</tbody></table>")
    warning = rejection_lines(rows)
    if warning:
        items = "".join(f"<li>{escape(line[2:])}</li>" for line in warning if line.startswith("- "))
        parts.append(f'<div class="warning"><p>{escape(warning[0].replace("**", ""))}</p><ul>{items}</ul></div>')
    parts.append(f"<script>{LOADED_SCRIPT}</script></body></html>")
    path = folder / HTML_REPORT
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
