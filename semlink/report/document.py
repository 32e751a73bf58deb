"""Reports of finished runs: figures, ``report.md`` and ``report.html`` made from ``results.csv``.

``write_report(folder)`` reads ``folder/results.csv`` and writes beside it ``<y>_vs_bpp.png`` and
``.pdf`` (a panel per value of the channel parameters that vary), ``<y>_vs_<axis>`` for each
channel parameter the run swept (loss, SNR, speed, ...), ``report.md`` (the run's settings, the
figures with their captions, the table, the work of the last run) and ``report.html`` (the same
sections, to open in a browser). ``y`` is the metric plotted: ``miou`` where the run has it, else
its first metric, or any metric column asked for. ``write_report(folder, x="link.mtu",
by="codec")`` draws it against any column instead, a line per value of ``by`` (the caption says
what the points average over). ``write_report(out, runs=[a, b])`` overlays several runs (each
row tagged with its folder's name in a ``run`` column). The drawing is in
:mod:`semlink.report.plots`, the table in :mod:`semlink.report.tables`, the page in
:mod:`semlink.report.page`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from semlink.report.page import Figure, Section, html_page, markdown_page
from semlink.report.plots import Drawn, Look, look_of, plot_against, plot_vs_bpp, save_figure
from semlink.report.road import plot_road, read_vehicle_rows, receiver_name, rsu_of
from semlink.report.settings import settings_lines
from semlink.report.tables import build_table, cell
from semlink.results.rows import (
    RUN_COLUMN,
    MissingResultsError,
    ReportError,
    Row,
    axis_columns,
    distinct,
    plotted_metric,
    read_results,
    slug,
)
from semlink.workcache import WORK_FILE, work_lines

__all__ = ["MissingResultsError", "ReportError", "cell", "write_report"]

REPORT = "report.md"
HTML_REPORT = "report.html"


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
    drawn = draw_figures(folder, header, rows, x, by, y)
    figures = [(save_figure(d.figure, png), d.caption) for png, d in drawn]
    title = folder.resolve().name if not runs else " vs ".join(run.resolve().name for run in runs)
    sections = report_sections(folder, list(runs) or [folder], header, rows, figures)
    markdown = folder / REPORT
    markdown.write_text(markdown_page(f"semlink report: {title}", sections))
    page = folder / HTML_REPORT
    page.write_text(html_page(f"semlink report: {title}", sections), encoding="utf-8")
    return [*(path for pair, _ in figures for path in pair), markdown, page]


def draw_figures(
    folder: Path, header: Sequence[str], rows: Sequence[Row], x: str | None, by: str | None, y: str
) -> list[tuple[Path, Drawn]]:
    """The report's figures and where each goes: ``y`` against ``x`` when asked, else against bpp
    and against each channel parameter that varies; all with one look (colours, line styles)."""
    look = look_of(header, rows)
    if x is not None:
        for column in (x, by):
            if column is not None and column not in header:
                known = ", ".join(["bpp", *axis_columns(header)])
                raise ReportError(f"results.csv has no column {column!r}; choose one of: {known}")
        return [(folder / f"{y}_vs_{slug(x)}.png", plot_against(rows, header, x, by, y, look))]
    drawn = [(folder / f"{y}_vs_bpp.png", plot_vs_bpp(rows, y, header, look))]
    for axis in look.roles.channel:
        if len(distinct(rows, axis)) > 1:
            drawn.append((folder / f"{y}_vs_{slug(axis)}.png", plot_against(rows, header, axis, None, y, look)))
    return drawn + vehicle_figures(folder, header, rows, look)


def vehicle_figures(folder: Path, header: Sequence[str], rows: Sequence[Row], look: Look) -> list[tuple[Path, Drawn]]:
    """With vehicles: the 5th-percentile and the mean vehicle's mIoU against the vehicle count
    (a line per codec, the other axes as line styles or panels) and the road picture."""
    drawn = []
    if "vehicles.count" in header and len(distinct(rows, "vehicles.count")) > 1:
        for y in ("miou_p5", "miou_mean"):
            if any(row.get(y) for row in rows):
                figure = plot_against(rows, header, "vehicles.count", None, y, look)
                drawn.append((folder / f"{y}_vs_vehicles.png", figure))
    road = plot_road(read_vehicle_rows(folder), rsu_of(folder), receiver_name(folder))
    if road is not None:
        drawn.append((folder / "road.png", road))
    return drawn


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


def report_sections(
    folder: Path,
    runs: Sequence[Path],
    header: Sequence[str],
    rows: Sequence[Row],
    figures: Sequence[tuple[list[Path], str]],
) -> list[Section]:
    """The report's sections, the same in ``report.md`` and ``report.html``: settings, figures,
    results (with any warning) and the work of the last run."""
    table = build_table(header, rows)
    results = Section(
        "Results",
        [f"{len(rows)} points from `results.csv`.", table.same_line(), table.interval_line(rows)],
        table=table,
    )
    results.warning = rejection_lines(rows)
    sections = [
        Section("Settings", items=settings_lines(runs)),
        Section("Figures", figures=[Figure(pair[0].name, pair[1].name, text) for pair, text in figures]),
        results,
    ]
    work = work_section(folder)
    return [*sections, work] if work else sections


def rejection_lines(rows: Sequence[Row]) -> list[str]:
    """A warning naming each row during which the channel or the receiver turned messages away
    (none when no row did, or for results written before the ``rejected`` column): its first
    line says what happened, the others name the rows."""
    flagged = [r for r in rows if r.get("rejected", "0") not in ("", "0")]
    if not flagged:
        return []
    lines = [
        f"**{len(flagged)} points saw rejected traffic** (malformed messages or another run's; "
        "they were counted and dropped before touching any state, so the other columns are unaffected):"
    ]
    lines += [
        f"{r['codec']} {r.get('channel_params', '')}: {r['rejected']} ({r.get('rejected_by', '')})" for r in flagged
    ]
    return lines


def work_section(folder: Path) -> Section | None:
    """The report's account of the last run's work (``work.json``): per stage, values computed,
    cache hits and seconds; None for a folder without one."""
    path = folder / WORK_FILE
    if not path.is_file():
        return None
    try:
        work = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    cache = work.get("cache")
    summary = f"Wall time {float(work.get('wall_s', 0)):.1f} s; work cache: " + (f"`{cache}`." if cache else "off.")
    return Section("Work of the last run", [summary], items=work_lines(work))
