"""Codec-only evaluation: the codecs over an ideal channel, as an in-process run of a scenario.

``semlink eval`` and :func:`semlink.evaluate` build a scenario (the frames, the codecs, an ideal
channel, no deadline) and run it like any other, so an evaluation has the same points, codec
factory, metrics, ``results.csv`` and report as a run.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from semlink.sim.scenario import Scenario, validate


def evaluation_scenario(
    data: Mapping[str, Any],
    codecs: Sequence[Mapping[str, Any]],
    segmenter: str | None = None,
    device: str = "auto",
    metrics: Sequence[str | Mapping[str, Any]] | None = None,
    seed: int = 0,
) -> Scenario:
    """The scenario of a codec-only evaluation: ``data`` and ``codecs`` as in a scenario file,
    an ideal channel, no deadline, in process."""
    raw: dict[str, Any] = {
        "name": "eval",
        "seed": seed,
        "data": dict(data),
        "codecs": [dict(c) for c in codecs],
        "channel": {"model": "ideal"},
        "link": {"deadline_ms": None},
        "transport": "inproc",
        "segmenter": segmenter,
        "device": device,
    }
    if metrics is not None:
        raw["metrics"] = [m if isinstance(m, str) else dict(m) for m in metrics]
    return validate(raw, "(semlink eval)")


def evaluate(scenario: Scenario, out: Path, console: Console | None = None) -> list[dict[str, str]]:
    """Run the evaluation into ``out`` (``results.csv``, ``frames.jsonl``, the report), print its
    table, and return the rows."""
    from semlink.sim.report import write_report
    from semlink.sim.runner import Run

    Run(scenario, "(semlink eval)", out, console).execute()
    write_report(out)
    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    console = console or Console(width=None if sys.stdout.isatty() else 240)  # logs get the whole table
    console.print(results_table(rows))
    return rows


def results_table(rows: Sequence[Mapping[str, str]]) -> Table:
    """A rich table of the points: their varying settings, bpp, the image and task metrics, IoU per class."""
    if not rows:
        return Table(title="codec-only evaluation (no points)")
    header = list(rows[0])
    first_metric = header.index("frames")
    settings = [c for c in header[1 : header.index("channel")]]
    classes = [c for c in header[first_metric:] if c.startswith("iou_") and not c.endswith(("_lo", "_hi"))]
    shown = [c for c in ("bpp", "miou", "map_consistency", "psnr", "ms_ssim") if c in header]
    table = Table(title="codec-only evaluation")
    for column in ["codec", *settings, "frames", *shown, *(c[4:10] for c in classes)]:
        table.add_column(column, justify="right")
    for row in rows:
        cells = [row["codec"], *(row[c] for c in settings), row["frames"]]
        cells += [short(row.get(c, "")) for c in shown] + [short(row.get(c, ""), 2) for c in classes]
        table.add_row(*cells)
    return table


def short(text: str, digits: int = 4) -> str:
    """A number cell rounded for the table (``-`` when empty)."""
    try:
        value = float(text)
    except ValueError:
        return text or "-"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"
