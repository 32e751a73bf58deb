"""``semlink run --workers N``: independent points at once on one machine.

The pending points are cut into units of consecutive sweep points: one to three per worker (three
so a slow unit does not hold the others up, fewer when units would hold fewer than
``MIN_UNIT_POINTS`` points, as every unit pays the start of its processes: about 3 s a point on
the quickstart on 2 cores); consecutive points share codec settings, so two workers rarely encode
the same frames at once. Each unit is a complete run of its points: ``python -m
semlink.executors.unit`` in a child process, reading the study's description with the unit's
points, with the scenario's transport (three nodes over ZeroMQ, or in-process), its share of
the thread budget, and its own folder ``OUT/.workers/<unit>``; the units share the run's work cache. The parent
follows the units' ``results.csv`` files, moves
each finished row (and its frames) into ``OUT/results.csv`` as soon as every row before it in
sweep order is there, so the file is the one ``--workers 1`` writes, byte for byte, and a killed
run leaves nothing half-merged: rerun, and the rows the units finished are merged, the rest run.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semlink.errors import StageError
from semlink.executors.base import Executor
from semlink.executors.progress import RunProgress
from semlink.logs import child_flags
from semlink.metrics import build_metrics
from semlink.nodes.threads import run_budget
from semlink.results.keys import KEY_COLUMN, row_key
from semlink.results.writer import ResultsWriter, append_durably
from semlink.study.study import Study
from semlink.study.units import Unit, unit_tag, units_of
from semlink.workcache import WORK_FILE, WorkStats

LOG = logging.getLogger(__name__)


WORKERS_DIR = ".workers"


def complete_text(path: Path) -> str:
    """A file's text up to its last newline (a line being written is left for later); empty if absent."""
    try:
        data = path.read_text()
    except OSError:
        return ""
    return data[: data.rfind("\n") + 1]


@dataclass
class Finished:
    """Rows, frame lines and vehicle rows that units have finished, by ``point_key``."""

    rows: dict[str, str]
    frames: dict[str, str]
    vehicles: dict[str, str]


def finished_in(folders: Sequence[Path], header: list[str], vehicle_header: list[str] | None = None) -> Finished:
    """The complete rows (as ``results.csv`` lines in ``header``'s order), frame lines and
    ``vehicles.csv`` lines (in ``vehicle_header``'s order) of the unit folders, keyed by their ``point_key``."""
    rows: dict[str, str] = {}
    frames: dict[str, str] = {}
    vehicles: dict[str, str] = {}
    for folder in folders:
        if vehicle_header is not None:
            for row in csv.DictReader(io.StringIO(complete_text(folder / "vehicles.csv"))):
                key = row.get(KEY_COLUMN, "")
                vehicles[key] = vehicles.get(key, "") + csv_line(vehicle_header, row)
        for line in complete_text(folder / "frames.jsonl").splitlines(keepends=True):
            try:
                key = json.loads(line).get("point_key")
            except (ValueError, AttributeError):
                continue
            if isinstance(key, str):
                frames[key] = frames.get(key, "") + line
        for row in csv.DictReader(io.StringIO(complete_text(folder / "results.csv"))):
            key = row.get(KEY_COLUMN)
            if key:
                rows[key] = csv_line(header, row)
    return Finished(rows, frames, vehicles)


def csv_line(header: list[str], row: dict[str, str]) -> str:
    """One CSV line of ``row`` in ``header``'s order (the writer's dialect)."""
    text = io.StringIO()
    csv.DictWriter(text, fieldnames=header).writerow({c: row.get(c, "") for c in header})
    return text.getvalue()


def append_rows_text(path: Path, header: list[str], rows: str) -> None:
    """Append CSV lines ``rows`` durably, with ``header`` first if the file is new or empty."""
    if not path.exists() or path.stat().st_size == 0:
        text = io.StringIO()
        csv.DictWriter(text, fieldnames=header).writeheader()
        rows = text.getvalue() + rows
    append_durably(path, rows)


class Merger:
    """Moves finished rows into the run's ``results.csv`` in sweep order.

    :param out: the run folder. :param order: the sweep's row keys, in sweep order.
    :param header: the columns of ``results.csv``. :param vehicle_header: those of ``vehicles.csv``
        (None: the run has no vehicles).
    """

    def __init__(self, out: Path, order: list[str], header: list[str], vehicle_header: list[str] | None = None) -> None:
        self.out, self.order, self.header, self.vehicle_header = out, order, header, vehicle_header
        self.csv_path, self.frames_path = out / "results.csv", out / "frames.jsonl"

    def stored(self) -> set[str]:
        """Row keys already in ``results.csv``."""
        return {row.get(KEY_COLUMN, "") for row in csv.DictReader(io.StringIO(complete_text(self.csv_path)))}

    def merge(self, folders: Sequence[Path]) -> int:
        """Append every finished row whose predecessors are all stored; returns how many were added."""
        finished = finished_in(folders, self.header, self.vehicle_header)
        stored = self.stored()
        added = 0
        for key in self.order:
            if key in stored:
                continue
            if key not in finished.rows:
                break
            if not self.csv_path.exists() or self.csv_path.stat().st_size == 0:
                header = io.StringIO()
                csv.DictWriter(header, fieldnames=self.header).writeheader()  # the writer's dialect, \r\n
                append_durably(self.csv_path, header.getvalue())
            append_durably(self.frames_path, finished.frames.get(key, ""))  # frames first, as the writer does
            if self.vehicle_header is not None:
                append_rows_text(self.out / "vehicles.csv", self.vehicle_header, finished.vehicles.get(key, ""))
            append_durably(self.csv_path, finished.rows[key])
            stored.add(key)
            added += 1
        return added

    def waiting(self, folders: Sequence[Path]) -> set[str]:
        """Row keys finished in unit folders but not yet merged (a gap before them)."""
        return set(finished_in(folders, self.header).rows) - self.stored()


class WorkersExecutor(Executor):
    """Units of points on ``workers`` local child pipelines, rows merged in sweep order."""

    name = "workers"

    def merger(self, study: Study) -> Merger:
        """The run's merger: rows in the sweep's order, with the writer's columns."""
        metrics = build_metrics(study.scenario.metrics, study.sources.of(study.points[0]).label_set)
        writer = ResultsWriter(self.context.out, study.scenario, study.points, metrics)
        vehicle_header = writer.vehicle_columns if writer.vehicles else None
        return Merger(
            self.context.out, [row_key(study.scenario, p) for p in study.points], writer.columns, vehicle_header
        )

    def prepare(self, study: Study, pending: set[int]) -> set[int]:
        """Merge what the units of a stopped run finished; the points still to run."""
        merger, folders = self.merger(study), unit_folders(self.context.out)
        if merger.merge(folders):
            LOG.info("merged the rows that an earlier run's workers finished")
        waiting = merger.waiting(folders)
        return {p.index for p in study.points if p.index in pending and row_key(study.scenario, p) not in waiting}

    def run(self, study: Study, pending: set[int], progress: RunProgress) -> dict[str, Any]:
        """Run ``pending`` as units; the unit folders go once every row is merged."""
        merger = self.merger(study)
        pool = WorkerPool(study, self.context.out, merger, self.context.workers, self.on_rows(study, progress))
        units = units_of(sorted(pending), self.context.workers, unit_tag())
        work = self.run_units(pool, units) if units else {}
        if not merger.waiting(pool.folders()):
            pool.clean()
        return work

    def run_units(self, pool: WorkerPool, units: list[Unit]) -> dict[str, Any]:
        """Run ``units`` on the pool; returns their work added up."""
        return pool.run(units)

    def on_rows(self, study: Study, progress: RunProgress) -> Callable[[int], None]:
        """Advances ``progress`` by a point's realisations for each finished row."""
        root = self.context.out / WORKERS_DIR

        per_point = study.units() / max(len(study.points), 1)  # exact unless the vehicle count is an axis

        def advance(count: int) -> None:
            if count:
                progress.points_done(round(count * per_point))
                progress.cache_rate(*finished_work(unit_folders(root.parent)).hit_counts())

        return advance


def unit_folders(out: Path) -> list[Path]:
    """Every unit folder of a run, of this invocation and of earlier ones that were stopped."""
    root = out / WORKERS_DIR
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def finished_work(folders: Sequence[Path]) -> WorkStats:
    """The work of the finished units in ``folders``."""
    total = WorkStats()
    for folder in folders:
        with contextlib.suppress(OSError, ValueError):
            total.merge(json.loads((folder / WORK_FILE).read_text()))
    return total


class WorkerPool:
    """Runs units on ``workers`` child pipelines and merges their rows as they come.

    :param study: the run's study (each unit gets its description with the unit's points).
    :param out: the run folder. :param merger: moves rows into ``results.csv``.
    :param workers: pipelines at once. :param on_rows: called with the number of rows finished since
        its last call (merged or waiting for the rows before them).
    """

    def __init__(self, study: Study, out: Path, merger: Merger, workers: int, on_rows: Callable[[int], None]) -> None:
        self.study, self.out, self.merger = study, out, merger
        self.workers, self.on_rows = workers, on_rows
        self.threads = max(1, run_budget(study.scenario.threads) // workers)
        self.root = out / WORKERS_DIR
        self._lock = threading.Lock()
        self._children: list[subprocess.Popen[str]] = []
        self.reported = 0
        self._failure: str | None = None

    def folders(self) -> list[Path]:
        """Every unit folder, of this run and of earlier ones that were stopped."""
        return unit_folders(self.out)

    def finished_rows(self) -> int:
        """Rows finished: merged into ``results.csv`` or written by a unit and waiting for the rows
        before them."""
        return len(self.merger.stored() | self.merger.waiting(self.folders()))

    def tick(self) -> None:
        """Merge what can be merged, and report every row finished since the last tick, merged or
        not, so progress counts points as the units finish them."""
        self.merger.merge(self.folders())
        done = self.finished_rows()
        self.on_rows(done - self.reported)
        self.reported = done

    def run(self, units: list[Unit]) -> dict[str, Any]:
        """Run ``units``; returns their work added up. Raises :class:`StageError` if one fails
        (the rows finished so far are merged or kept for the next run)."""
        queue = list(units)
        threads = [threading.Thread(target=self._work, args=(queue,), daemon=True) for _ in range(self.workers)]
        self.reported = self.finished_rows()
        for thread in threads:
            thread.start()
        try:
            while any(thread.is_alive() for thread in threads):
                self.tick()
                time.sleep(0.5)
        finally:
            self._stop_children()
            for thread in threads:
                thread.join(timeout=10)
            self.tick()
        if self._failure:
            raise StageError(self._failure)
        return self.work(units)

    def _work(self, queue: list[Unit]) -> None:
        while True:
            with self._lock:
                if not queue or self._failure:
                    return
                unit = queue.pop(0)
            message = self._run_unit(unit)
            if message:
                with self._lock:
                    self._failure = self._failure or message

    def _run_unit(self, unit: Unit) -> str | None:
        """Run one unit as ``python -m semlink.executors.unit``; returns None, or its failure in one line."""
        folder = self.root / unit.name
        folder.mkdir(parents=True, exist_ok=True)
        description = folder / "study.json"
        description.write_text(self.study.to_json(unit.points))
        command = unit_command(description, folder, self.threads)
        command += [flag for flag in child_flags() if flag != "--progress"]
        LOG.info("unit %s: points %s", unit.name, ",".join(map(str, unit.points)))
        with (folder / "unit.log").open("w") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
            with self._lock:
                self._children.append(child)
            code = child.wait()
        if code == 0:
            return None
        lines = [line for line in (folder / "unit.log").read_text().splitlines() if line.strip()]
        return (
            f"worker unit {unit.name} (points {unit.points[0]}-{unit.points[-1]}) stopped with exit code {code}: "
            + (lines[-1] if lines else "(no output)")
        )

    def _stop_children(self) -> None:
        with self._lock:
            children = list(self._children)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    def work(self, units: list[Unit]) -> dict[str, Any]:
        """The units' ``work.json`` added up."""
        return finished_work([self.root / unit.name for unit in units]).to_dict()

    def finished_work(self) -> WorkStats:
        """The work of every unit folder that has finished."""
        return finished_work(self.folders())

    def clean(self) -> None:
        """Remove the unit folders once every row is merged."""
        shutil.rmtree(self.root, ignore_errors=True)


def unit_command(description: Path, out: Path, threads: int) -> list[str]:
    """The command line of a unit's child process (see :mod:`semlink.executors.unit`)."""
    return [sys.executable, "-m", "semlink.executors.unit", str(description), str(out), "--threads", str(threads)]
