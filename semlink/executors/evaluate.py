"""Codec-only evaluation: the codecs over an ideal channel, as an in-process run of a scenario.

``semlink eval`` and :func:`semlink.evaluate` build a scenario (the frames, the codecs, an ideal
channel, no deadline) and run it like any other, so an evaluation has the same points, codec
factory, metrics, ``results.csv`` and report as a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from semlink.scenario.loading import validate
from semlink.scenario.schema import Scenario


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


def evaluate(scenario: Scenario, out: Path, console: Console | None = None) -> int:
    """Run the evaluation into ``out`` (``results.csv``, ``frames.jsonl``, the report) and return
    the number of points run (those already in ``out`` are kept), holding the folder's lock
    (:func:`semlink.results.folder.hold_folder`) throughout. Prints nothing: ``semlink eval``
    shows the table (:func:`semlink.cli.evaluate.results_table`).

    :param console: where progress goes (default: stderr).
    """
    from semlink.scenario.precheck import precheck

    precheck(scenario, "(semlink eval)")  # names, files, sizes: refused before torch loads
    from semlink.executors.runner import Run
    from semlink.report.document import write_report
    from semlink.results.folder import hold_folder

    with hold_folder(out):  # one writer per folder, the report included
        ran = Run(scenario, "(semlink eval)", out, console).execute()
        write_report(out)
    return ran
