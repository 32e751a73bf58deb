"""``semlink run --executor ray``: the units of :mod:`semlink.executors.workers` as Ray tasks (the
optional extra ``semlink[ray]``).

Each task runs one unit exactly as a local worker does (``python -m semlink.executors.unit`` in a
child process on the Ray worker, the scenario's transport) in a temporary folder there, and returns the
unit's ``results.csv``, ``frames.jsonl`` and ``work.json`` as text; the driver writes them into
``OUT/.workers/<unit>`` as they come back and merges them in sweep order, so a Ray run writes,
resumes and reports exactly as a local one. Tasks use the run's work cache where the worker sees
its folder (a shared filesystem), and a cache of their own on the worker where not.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from semlink.errors import StageError
from semlink.executors.workers import WorkerPool, WorkersExecutor, unit_command
from semlink.nodes.threads import run_budget
from semlink.study.units import Unit
from semlink.workcache import WORK_FILE

LOG = logging.getLogger(__name__)
EXTRA = "pip install 'semlink[ray]'"
UNIT_FILES = ("results.csv", "frames.jsonl", WORK_FILE)


class RayMissingError(ValueError):
    """Ray is not installed, or the cluster cannot be reached; one line naming the fix."""


def worker_cache(scenario: dict[str, Any]) -> str | bool:
    """The cache a task uses: the run's folder where this worker sees it, else one of its own."""
    cache = scenario.get("cache", True)
    if isinstance(cache, str) and Path(cache).is_dir():
        return cache
    if cache is False:
        return False
    return str(Path(tempfile.gettempdir()) / "semlink-worker-cache")


def run_unit(description: str, points: list[int], threads: int) -> dict[str, str]:
    """One unit on this machine (a Ray task's body): returns its result files' text.

    :param description: the run's study (:meth:`semlink.study.study.Study.to_json`, JSON text).
    :param points: the unit's sweep indices. :param threads: its thread budget.
    :raises StageError: with the unit's last output line if it fails.
    """
    study = json.loads(description)
    study["scenario"]["cache"] = worker_cache(study["scenario"])
    study["pending"] = sorted(points)
    with tempfile.TemporaryDirectory(prefix="semlink-unit-") as folder:
        path = Path(folder) / "study.json"
        path.write_text(json.dumps(study))
        out = Path(folder) / "out"
        done = subprocess.run([*unit_command(path, out, threads), "-q"], capture_output=True, text=True, check=False)
        if done.returncode:
            lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
            raise StageError(f"points {points[0]}-{points[-1]} failed: {lines[-1] if lines else done.returncode}")
        return {name: (out / name).read_text() for name in UNIT_FILES if (out / name).is_file()}


class RayExecutor(WorkersExecutor):
    """The units of :class:`~semlink.executors.workers.WorkersExecutor` as Ray tasks."""

    name = "ray"

    def run_units(self, pool: WorkerPool, units: list[Unit]) -> dict[str, Any]:
        """Submit ``units`` to Ray, write each one's files as it comes back, merge in sweep order."""
        ray = connect(self.context.address, self.context.workers)
        cluster_cpus = max(1, int(ray.cluster_resources().get("CPU", self.context.workers)))
        LOG.info("Ray: %d units on %d CPUs", len(units), cluster_cpus)
        tasks = RayUnits(ray, pool.study.to_json(), units, max(1, run_budget(None) // cluster_cpus))
        pool.reported = pool.finished_rows()
        try:
            while tasks.pending:
                tasks.collect(0.5, lambda unit: pool.root / unit.name)
                pool.tick()  # a unit's rows count when its task comes back, merged or not
        finally:
            tasks.cancel()
            pool.tick()
        return pool.work(units)


def connect(address: str | None, workers: int) -> Any:
    """The ``ray`` module, connected: to ``address`` (``auto``: the running cluster; ``HOST:PORT``),
    or a local instance with ``workers`` CPUs when None.

    :raises RayMissingError: when Ray is missing or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise RayMissingError(f"--executor ray needs Ray, which is not installed: {EXTRA}") from None
    if not ray.is_initialized():
        try:
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except Exception as error:  # ConnectionError, RuntimeError, ...: say which cluster and why
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            where = address or "a local instance"
            raise RayMissingError(f"cannot start Ray on {where}: {first}; check --address") from None
    return ray


class RayUnits:
    """Units submitted to Ray as tasks; :meth:`collect` writes the ones that are back.

    :param ray: the connected ``ray`` module. :param description: the run's study as JSON text.
    :param units: the units to run. :param threads: each unit's thread budget.
    """

    def __init__(self, ray: Any, description: str, units: list[Unit], threads: int) -> None:
        self.ray = ray
        remote = ray.remote(num_cpus=1, max_retries=1)(run_unit)
        self.pending = {remote.remote(description, list(unit.points), threads): unit for unit in units}

    def collect(self, timeout_s: float, folder_of: Callable[[Unit], Path]) -> list[Unit]:
        """Wait up to ``timeout_s`` for tasks; write each finished unit's files into
        ``folder_of(unit)`` (rows last, so a row never lands before its frames); return those units.

        :raises StageError: when a task failed (the others are cancelled).
        """
        if not self.pending:
            return []
        ready, _ = self.ray.wait(list(self.pending), num_returns=len(self.pending), timeout=timeout_s)
        written = []
        for reference in ready:
            unit = self.pending.pop(reference)
            try:
                files: dict[str, str] = self.ray.get(reference)
            except Exception as error:
                self.cancel()
                cause = str(getattr(error, "cause", None) or error).strip().splitlines()
                raise StageError(f"Ray task of unit {unit.name} failed: {cause[-1] if cause else error}") from None
            folder = folder_of(unit)
            folder.mkdir(parents=True, exist_ok=True)
            for name in sorted(files, key=lambda n: n == "results.csv"):
                temporary = folder / f".{name}.tmp"
                temporary.write_text(files[name])
                temporary.replace(folder / name)
            LOG.info("unit %s back from Ray: points %s", unit.name, ",".join(map(str, unit.points)))
            written.append(unit)
        return written

    def cancel(self) -> None:
        """Cancel the tasks still pending."""
        for reference in self.pending:
            self.ray.cancel(reference, force=True)
        self.pending.clear()
