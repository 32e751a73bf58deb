"""``semlink run --workers N``: independent points at once on one machine.

The pending points are cut into units of consecutive sweep points: one to three per worker (three
so a slow unit does not hold the others up, fewer when units would hold fewer than
``MIN_UNIT_POINTS`` points, as every unit pays the start of its processes: about 3 s a point on
the quickstart on 2 cores); consecutive points share codec settings, so two workers rarely encode
the same frames at once. Each unit is a complete run of its points: ``semlink
run --points ...`` in a child process, with the scenario's transport (three nodes over ZeroMQ,
or in-process), its share of the thread budget, and its own folder ``OUT/.workers/<unit>``; the
units share the run's work cache. The parent follows the units' ``results.csv`` files, moves
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
import math
import os
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
from semlink.logs import child_flags
from semlink.sim.results import KEY_COLUMN, append_durably
from semlink.sim.threads import run_budget
from semlink.workcache import WORK_FILE, WorkStats

LOG = logging.getLogger(__name__)
WORKERS_DIR = ".workers"
UNITS_PER_WORKER = 3
"""Units per worker at most."""
MIN_UNIT_POINTS = 8
"""Fewer units per worker when they would hold fewer points than this (but one per worker at least)."""


@dataclass(frozen=True)
class Unit:
    """Consecutive pending points of the sweep run together by one worker.

    :param name: the unit's folder name. :param points: sweep indices, ascending.
    """

    name: str
    points: tuple[int, ...]


def units_of(todo: Sequence[int], workers: int, tag: str) -> list[Unit]:
    """``todo`` (sweep indices) cut into one to ``UNITS_PER_WORKER`` consecutive runs per worker
    (see the module docstring)."""
    ordered = sorted(todo)
    if not ordered:
        return []
    per_worker = max(1, min(UNITS_PER_WORKER, len(ordered) // (workers * MIN_UNIT_POINTS)))
    count = min(len(ordered), workers * per_worker)
    size = math.ceil(len(ordered) / count)
    return [
        Unit(f"{tag}-{number:03d}", tuple(ordered[start : start + size]))
        for number, start in enumerate(range(0, len(ordered), size))
    ]


def complete_text(path: Path) -> str:
    """A file's text up to its last newline (a line being written is left for later); empty if absent."""
    try:
        data = path.read_text()
    except OSError:
        return ""
    return data[: data.rfind("\n") + 1]


@dataclass
class Finished:
    """Rows and frame lines that units have finished, by ``point_key``."""

    rows: dict[str, str]
    frames: dict[str, str]


def finished_in(folders: Sequence[Path], header: list[str]) -> Finished:
    """The complete rows (as ``results.csv`` lines in ``header``'s order) and frame lines of the
    unit folders, keyed by their ``point_key``."""
    rows: dict[str, str] = {}
    frames: dict[str, str] = {}
    for folder in folders:
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
                text = io.StringIO()
                csv.DictWriter(text, fieldnames=header).writerow({c: row.get(c, "") for c in header})
                rows[key] = text.getvalue()
    return Finished(rows, frames)


class Merger:
    """Moves finished rows into the run's ``results.csv`` in sweep order.

    :param out: the run folder. :param order: the sweep's row keys, in sweep order.
    :param header: the columns of ``results.csv``.
    """

    def __init__(self, out: Path, order: list[str], header: list[str]) -> None:
        self.out, self.order, self.header = out, order, header
        self.csv_path, self.frames_path = out / "results.csv", out / "frames.jsonl"

    def stored(self) -> set[str]:
        """Row keys already in ``results.csv``."""
        return {row.get(KEY_COLUMN, "") for row in csv.DictReader(io.StringIO(complete_text(self.csv_path)))}

    def merge(self, folders: Sequence[Path]) -> int:
        """Append every finished row whose predecessors are all stored; returns how many were added."""
        finished = finished_in(folders, self.header)
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
            append_durably(self.csv_path, finished.rows[key])
            stored.add(key)
            added += 1
        return added

    def waiting(self, folders: Sequence[Path]) -> set[str]:
        """Row keys finished in unit folders but not yet merged (a gap before them)."""
        return set(finished_in(folders, self.header).rows) - self.stored()


class WorkerPool:
    """Runs units on ``workers`` child pipelines and merges their rows as they come.

    :param scenario_path: the run's resolved scenario copy (its ``cache`` names the shared folder).
    :param out: the run folder. :param merger: moves rows into ``results.csv``.
    :param workers: pipelines at once. :param threads: the run's thread budget (None: the cores).
    :param on_rows: called with the number of rows each merge added (progress).
    """

    def __init__(
        self,
        scenario_path: Path,
        out: Path,
        merger: Merger,
        workers: int,
        threads: int | None,
        on_rows: Callable[[int], None],
    ) -> None:
        self.scenario_path, self.out, self.merger = scenario_path, out, merger
        self.workers, self.on_rows = workers, on_rows
        self.threads = max(1, run_budget(threads) // workers)
        self.root = out / WORKERS_DIR
        self._lock = threading.Lock()
        self._children: list[subprocess.Popen[str]] = []
        self._failure: str | None = None

    def folders(self) -> list[Path]:
        """Every unit folder, of this run and of earlier ones that were stopped."""
        return sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def run(self, units: list[Unit]) -> dict[str, Any]:
        """Run ``units``; returns their work added up. Raises :class:`StageError` if one fails
        (the rows finished so far are merged or kept for the next run)."""
        queue = list(units)
        threads = [threading.Thread(target=self._work, args=(queue,), daemon=True) for _ in range(self.workers)]
        for thread in threads:
            thread.start()
        try:
            while any(thread.is_alive() for thread in threads):
                self.on_rows(self.merger.merge(self.folders()))
                time.sleep(0.5)
        finally:
            self._stop_children()
            for thread in threads:
                thread.join(timeout=10)
            self.on_rows(self.merger.merge(self.folders()))
        if self._failure:
            raise StageError(self._failure)
        return self.work(units)

    def run_ray(self, units: list[Unit], address: str | None) -> dict[str, Any]:
        """Run ``units`` as Ray tasks (:mod:`semlink.sim.ray_executor`); returns their work added up."""
        from semlink.sim.ray_executor import RayUnits, connect

        ray = connect(address, self.workers)
        cluster_cpus = max(1, int(ray.cluster_resources().get("CPU", self.workers)))
        LOG.info("Ray: %d units on %d CPUs", len(units), cluster_cpus)
        tasks = RayUnits(ray, self.scenario_path, units, max(1, run_budget(None) // cluster_cpus))
        try:
            while tasks.pending:
                tasks.collect(0.5, lambda unit: self.root / unit.name)
                self.on_rows(self.merger.merge(self.folders()))
        finally:
            tasks.cancel()
            self.on_rows(self.merger.merge(self.folders()))
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
        """Run one unit as ``semlink run --points``; returns None, or its failure in one line."""
        folder = self.root / unit.name
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "semlink.cli", "run", str(self.scenario_path), "--out", str(folder)]
        command += ["--points", ",".join(map(str, unit.points)), "--no-report", "--set", f"threads={self.threads}"]
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
        return self.finished_work([self.root / unit.name for unit in units]).to_dict()

    def finished_work(self, folders: Sequence[Path] | None = None) -> WorkStats:
        """The work of the units in ``folders`` (default: every unit folder) that have finished."""
        total = WorkStats()
        for folder in self.folders() if folders is None else folders:
            with contextlib.suppress(OSError, ValueError):
                total.merge(json.loads((folder / WORK_FILE).read_text()))
        return total

    def clean(self) -> None:
        """Remove the unit folders once every row is merged."""
        shutil.rmtree(self.root, ignore_errors=True)


def unit_tag() -> str:
    """A prefix for this run's unit folders that no earlier run's folders share."""
    return f"{int(time.time())}-{os.getpid()}"
