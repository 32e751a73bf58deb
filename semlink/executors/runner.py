"""``semlink run``: a study built once, its pending points handed to the executor the command
line chose, the rows checked at the end."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from semlink.errors import ScenarioError, StageError
from semlink.executors.base import RunContext, executor_class, executor_name
from semlink.executors.progress import RunProgress
from semlink.metrics import build_metrics
from semlink.results.folder import check_same_study, hold_folder
from semlink.results.keys import write_points
from semlink.results.writer import ResultsWriter
from semlink.scenario.loading import dump_scenario
from semlink.scenario.schema import Scenario
from semlink.study.study import Study
from semlink.wire import new_run_id
from semlink.workcache import WORK_FILE

LOG = logging.getLogger(__name__)


class Run:
    """One run of a scenario into an output folder.

    :param scenario: the validated scenario. :param origin: its file (for messages).
    :param out: output folder. :param console: where progress goes.
    :param workers: pipelines running points at once (:mod:`semlink.executors.workers`).
    :param only: run only these sweep indices (None: every pending point).
    :param executor: ``local`` (here: in process, as processes, or on ``workers`` workers) or ``ray``.
    :param address: with ``ray``: ``auto``, ``HOST:PORT``, or None for a local instance of ``workers`` CPUs.
    :param study: the study, when a parent already built it (a unit of a pooled run).
    """

    def __init__(
        self,
        scenario: Scenario,
        origin: str,
        out: Path,
        console: Console | None = None,
        workers: int = 1,
        only: set[int] | None = None,
        executor: str = "local",
        address: str | None = None,
        study: Study | None = None,
    ) -> None:
        self.scenario, self.origin, self.out = scenario, origin, out
        self.console = console or Console(stderr=True)
        self.workers, self.only, self.address = workers, only, address
        self.executor = executor_name(executor, workers, scenario.transport)
        self.run_id = new_run_id()  # handed to the nodes; other processes cannot guess it
        self.study = study
        self.work: dict[str, Any] = {}

    def build(self) -> Study:
        """The run's study (built once: frames opened, the sweep expanded and checked), with the
        run's cache folder filled in where the scenario asks for ``OUT/cache``."""
        study = self.study or Study.build(self.scenario, self.origin)
        if study.scenario.cache is True:  # every process of the run finds the cache folder in the study
            cache = str((self.out / "cache").absolute())
            study = dataclasses.replace(study, scenario=study.scenario.model_copy(update={"cache": cache}))
        self.study = study
        return study

    def writer(self, study: Study) -> ResultsWriter:
        """The run's results writer (it repairs what a killed run left half-written)."""
        metrics = build_metrics(study.scenario.metrics, study.sources.of(study.points[0]).label_set)
        return ResultsWriter(self.out, study.scenario, study.points, metrics)

    def pending(self, study: Study) -> set[int]:
        """The points of the sweep (or of ``only``) that have no row yet."""
        writer = self.writer(study)
        if writer.repaired:
            LOG.warning(
                "dropped %d bytes an interrupted run left half-written in %s "
                "(a torn last line, frames of a point without its row); those points run again",
                writer.repaired,
                self.out,
            )
        done = writer.done_keys()
        return {p.index for p in study.points if p.key not in done and (self.only is None or p.index in self.only)}

    def execute(self) -> int:
        """Run the pending points, holding the output folder's lock throughout
        (:func:`semlink.results.folder.hold_folder`); returns how many ran. What the stages did
        is in :attr:`work` (and ``OUT/work.json``).

        :raises FolderError: in one line, if another run holds the folder, it cannot be written,
            or its rows came from other non-axis settings.
        :raises ScenarioError: in one line, if ``only`` names an index outside the sweep.
        """
        with hold_folder(self.out):
            return self._execute()

    def _execute(self) -> int:
        study = self.build()
        check_indices(self.only, len(study.points))
        check_same_study(self.out, study.scenario)
        todo = self.pending(study)
        dump_scenario(study.scenario, self.out / "scenario.yaml")
        write_points(self.out, study.scenario, study.points)
        if not todo:
            LOG.info("all %d points already in %s", len(study.points), self.out)
            return 0
        wanted = len(study.points) if self.only is None else len(self.only)
        if len(todo) < wanted:
            LOG.info(
                "resuming: %d of %d points already in %s; %d to run", wanted - len(todo), wanted, self.out, len(todo)
            )
        started = time.monotonic()
        executor = executor_class(self.executor)(RunContext(self.out, self.run_id, self.workers, self.address))
        todo = executor.prepare(study, todo)
        with RunProgress(self.console, study.units(set(todo)), study.frames) as bar:
            self.work = executor.run(study, todo, bar) if todo else {}
        self.work["wall_s"] = round(time.monotonic() - started, 2)
        self.work["cache"] = study.scenario.cache if study.scenario.cache is not False else None
        write_work(self.out, self.work)
        self.check_finished(study)
        return len(todo)

    def check_finished(self, study: Study) -> None:
        """Every point of the sweep has a row now, or the run failed somewhere."""
        done = self.writer(study).done_keys()
        missing = [p.index for p in study.points if p.key not in done and (self.only is None or p.index in self.only)]
        if missing:
            raise StageError(f"points {missing} got no results; see {self.out / 'logs'} for the nodes' messages")


def check_indices(only: set[int] | None, count: int) -> None:
    """Refuse sweep indices (``--points``) outside a sweep of ``count`` points, in one line."""
    outside = sorted(i for i in only or () if not 0 <= i < count)
    if outside:
        listed = ",".join(map(str, outside[:5])) + (",..." if len(outside) > 5 else "")
        raise ScenarioError(
            f"--points {listed}: out of range, the sweep has {count} points; give indices from 0 to {count - 1}"
        )


def write_work(out: Path, work: dict[str, Any]) -> None:
    """``OUT/work.json``: what this invocation's stages did (the report shows it)."""
    (out / WORK_FILE).write_text(json.dumps(work, indent=1) + "\n")
