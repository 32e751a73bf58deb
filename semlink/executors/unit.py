"""One unit of a pooled run, in its own process: ``python -m semlink.executors.unit STUDY OUT``.

Reads the study's description (:meth:`semlink.study.study.Study.to_json`, whose ``pending`` are
the unit's points), runs them into ``OUT`` as one pipeline (the scenario's transport: in process
or as three node processes), writes no report. Errors end in one line and exit code 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from semlink.logs import add_logging_options
from semlink.nodes.main import exit_code


def parser() -> argparse.ArgumentParser:
    """The unit's command line."""
    unit = argparse.ArgumentParser(prog="python -m semlink.executors.unit", description=__doc__)
    unit.add_argument("study", type=Path, help="the study description (JSON) with the unit's points")
    unit.add_argument("out", type=Path, help="the unit's output folder")
    unit.add_argument("--threads", type=int, default=None, help="the unit's thread budget")
    add_logging_options(unit)
    return unit


def main(argv: Sequence[str] | None = None) -> int:
    """Run the unit; returns the exit code."""
    args = parser().parse_args(argv)
    return exit_code("semlink unit", lambda: run_unit(args.study, args.out, args.threads), args)


def run_unit(description: Path, out: Path, threads: int | None) -> None:
    """Load the study with the unit's points and run them into ``out`` as one pipeline."""
    from semlink.executors.runner import Run
    from semlink.study.study import Study

    study, pending = Study.from_json(description.read_text())
    if threads is not None:
        study.scenario = study.scenario.model_copy(update={"threads": threads})
    Run(study.scenario, study.origin, out, only=pending, study=study).execute()


if __name__ == "__main__":
    raise SystemExit(main())
