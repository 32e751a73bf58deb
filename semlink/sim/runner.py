"""``semlink run``: the three nodes as child processes (or in one process), progress, results, report."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from semlink.errors import StageError
from semlink.logs import child_flags, progress_display
from semlink.metrics import build_metrics
from semlink.sim.endpoints import private_endpoints
from semlink.sim.nodes import WORK_ENV
from semlink.sim.plans import PARENT_ENV, RUN_ID_ENV, check_points, open_frames, resolve
from semlink.sim.results import ResultsWriter, row_key
from semlink.sim.scenario import Scenario, dump_scenario
from semlink.sim.threads import node_threads, run_budget, thread_environment
from semlink.sim.transport import COUNTERS_PREFIX
from semlink.sim.workers import Merger, WorkerPool, unit_tag, units_of
from semlink.wire import new_run_id
from semlink.workcache import WORK_FILE, WorkStats

LOG = logging.getLogger(__name__)
WORK_SUFFIX = ".work.json"
ROLES = ("receiver", "channel", "transmitter")  # start order: listeners first
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a node started by ``semlink run``: get SIGTERM when the parent dies, so no node is orphaned.

    Called from the child's own ``main`` (``preexec_fn`` is unsafe once threads run); exits at once
    if the parent is already gone. Linux only; a no-op elsewhere or outside ``semlink run``.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != parent:
        raise SystemExit(143)


class Run:
    """One run of a scenario into an output folder.

    :param scenario: the validated scenario. :param origin: its file (for messages).
    :param out: output folder. :param console: where progress goes.
    :param workers: pipelines running points at once (:mod:`semlink.sim.workers`).
    :param only: run only these sweep indices (None: every pending point).
    :param executor: ``local`` (child processes here) or ``ray`` (tasks on a Ray cluster).
    :param address: with ``ray``: ``auto``, ``HOST:PORT``, or None for a local instance of ``workers`` CPUs.
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
    ) -> None:
        self.scenario, self.origin, self.out = scenario, origin, out
        self.console = console or Console(stderr=True)
        self.workers, self.only = workers, only
        self.executor, self.address = executor, address
        self.run_id = new_run_id()  # handed to the nodes; other processes cannot guess it
        self._logs: list[TextIO] = []
        self.work: dict[str, Any] = {}

    def pending(self) -> tuple[Scenario, set[int], int]:
        """The resolved scenario, the points still to run, and the frames per point."""
        source = open_frames(self.scenario)
        resolved = resolve(self.scenario, source)
        sweep = check_points(resolved, self.origin, source.label_set.name)
        metrics = build_metrics(resolved.metrics, source.label_set)
        writer = ResultsWriter(self.out, resolved, sweep, metrics)  # repairs what a killed run left
        if writer.repaired:
            LOG.warning(
                "dropped %d bytes an interrupted run left half-written in %s "
                "(a torn last line, frames of a point without its row); those points run again",
                writer.repaired,
                self.out,
            )
        done = writer.done_keys()
        self.merger = Merger(self.out, [row_key(resolved, p) for p in sweep], writer.columns)
        todo = {p.index for p in sweep if p.key not in done and (self.only is None or p.index in self.only)}
        return resolved, todo, len(source)

    def execute(self) -> int:
        """Run the pending points; returns how many ran. What the stages did is in :attr:`work`
        (and ``OUT/work.json``)."""
        resolved, todo, frames = self.pending()
        if resolved.cache is True:  # the nodes find the run's cache folder in the scenario copy
            resolved = resolved.model_copy(update={"cache": str((self.out / "cache").absolute())})
        scenario_path = self.out / "scenario.yaml"
        dump_scenario(resolved, scenario_path)
        if not todo:
            LOG.info("all %d points already in %s", len(check_points(resolved, self.origin)), self.out)
            return 0
        started = time.monotonic()
        if self.pooled:
            todo = self.merge_earlier_units(resolved, todo)
        with self.progress(len(todo) * resolved.repeat_count, frames) as bar:
            if self.pooled:
                self.work = self.run_workers(scenario_path, resolved, todo, bar)
            elif resolved.transport == "inproc":
                from semlink.sim.nodes import inproc_run

                stats = WorkStats()

                def on_frame(point: int, done: int) -> None:
                    bar.on_frame(point, done)
                    bar.cache_rate(*stats.hit_counts())

                inproc_run(resolved, self.origin, self.out, todo, on_frame, stats)
                self.work = stats.to_dict()
            else:
                self.processes(scenario_path, todo, bar)
                self.work = work_summary(self.out / "logs")
        self.work["wall_s"] = round(time.monotonic() - started, 2)
        self.work["cache"] = resolved.cache if resolved.cache is not False else None
        write_work(self.out, self.work)
        self.check_finished(resolved)
        return len(todo)

    @property
    def pooled(self) -> bool:
        """Whether points run as units on a pool (``--workers`` > 1, or Ray)."""
        return self.workers > 1 or self.executor == "ray"

    def merge_earlier_units(self, resolved: Scenario, todo: set[int]) -> set[int]:
        """Merge what the units of a stopped ``--workers`` run finished; the points still to run."""
        pool = self.pool(Path(), resolved, None)
        if self.merger.merge(pool.folders()):
            LOG.info("merged the rows that an earlier run's workers finished")
        waiting = self.merger.waiting(pool.folders())
        sweep = check_points(resolved, self.origin)
        return {p.index for p in sweep if p.index in todo and row_key(resolved, p) not in waiting}

    def pool(self, scenario_path: Path, resolved: Scenario, bar: RunProgress | None) -> WorkerPool:
        """The worker pool of this run; each merged row advances ``bar`` by a point's realisations."""
        repeats = resolved.repeat_count

        def on_rows(count: int) -> None:
            if bar is not None and count:
                bar.points_done(count * repeats)
                bar.cache_rate(*pool.finished_work().hit_counts())

        pool = WorkerPool(scenario_path, self.out, self.merger, self.workers, resolved.threads, on_rows)
        return pool

    def run_workers(self, scenario_path: Path, resolved: Scenario, todo: set[int], bar: RunProgress) -> dict[str, Any]:
        """Run ``todo`` on the worker pool; the unit folders go once every row is merged."""
        pool = self.pool(scenario_path, resolved, bar)
        units = units_of(sorted(todo), self.workers, unit_tag())
        work: dict[str, Any] = {}
        if units:
            work = pool.run_ray(units, self.address) if self.executor == "ray" else pool.run(units)
        if not self.merger.waiting(pool.folders()):
            pool.clean()
        return work

    def check_finished(self, resolved: Scenario) -> None:
        """Every point of the sweep has a row now, or the run failed somewhere."""
        source = open_frames(resolved)
        sweep = check_points(resolved, self.origin)
        metrics = build_metrics(resolved.metrics, source.label_set)
        done = ResultsWriter(self.out, resolved, sweep, metrics).done_keys()
        missing = [p.index for p in sweep if p.key not in done and (self.only is None or p.index in self.only)]
        if missing:
            raise StageError(f"points {missing} got no results; see {self.out / 'logs'} for the nodes' messages")

    def progress(self, points: int, frames: int) -> RunProgress:
        """A progress display for ``points`` points of ``frames`` frames."""
        return RunProgress(self.console, points, frames)

    def processes(self, scenario_path: Path, todo: set[int], bar: RunProgress) -> None:
        """Start receiver, channel and transmitter; follow the receiver's progress; never leave orphans."""
        logs = self.out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._logs = []
        with private_endpoints(self.scenario.network) as endpoints:
            environment = {**os.environ, **endpoints, PARENT_ENV: str(os.getpid()), RUN_ID_ENV: str(self.run_id)}
            self.run_children(environment, scenario_path, todo, bar)

    def run_children(self, environment: dict[str, str], scenario_path: Path, todo: set[int], bar: RunProgress) -> None:
        """Start the nodes with ``environment``, follow them to the end, stop what is left."""
        logs = self.out / "logs"
        children: dict[str, subprocess.Popen[str]] = {}
        try:
            for role in ROLES:
                children[role] = self.spawn(role, scenario_path, todo, logs, environment)
            reader = threading.Thread(target=bar.follow, args=(children["receiver"],), daemon=True)
            reader.start()
            self.wait(children, logs)
            reader.join(timeout=5)
        finally:
            stop_all(children)
            for handle in self._logs:
                handle.close()
            for line in rejection_summary(logs):
                LOG.warning("%s", line)

    def spawn(
        self, role: str, scenario_path: Path, todo: set[int], logs: Path, environment: dict[str, str]
    ) -> subprocess.Popen[str]:
        """One node as a child process; stderr goes to ``logs/<role>.log``."""
        command = [sys.executable, "-m", "semlink.cli", role, str(scenario_path), *child_flags()]
        if role == "receiver":
            command += ["--out", str(self.out), "--progress"]
        if role == "transmitter":
            command += ["--points", ",".join(str(i) for i in sorted(todo))]
        stderr = (logs / f"{role}.log").open("w")
        self._logs.append(stderr)
        work = logs / f"{role}{WORK_SUFFIX}"
        work.unlink(missing_ok=True)  # an earlier run's: only this run's work is added up
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE if role == "receiver" else subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            env={
                **environment,
                **thread_environment(node_threads(role, run_budget(self.scenario.threads))),
                WORK_ENV: str(work),
            },
        )

    def wait(self, children: dict[str, subprocess.Popen[str]], logs: Path) -> None:
        """Wait for all to finish; if one fails, stop the others and raise with its last error line."""
        while any(child.poll() is None for child in children.values()):
            for role, child in children.items():
                code = child.poll()
                if code not in (None, 0):
                    stop_all(children)
                    raise StageError(f"the {role} stopped with exit code {code}: {last_line(logs / f'{role}.log')}")
            time.sleep(0.1)
        for role, child in children.items():
            if child.returncode != 0:
                raise StageError(
                    f"the {role} stopped with exit code {child.returncode}: {last_line(logs / f'{role}.log')}"
                )


def stop_all(children: dict[str, subprocess.Popen[str]]) -> None:
    """SIGTERM every live child, then SIGKILL what is left after 5 s."""
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 5.0
    for child in children.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        if child.poll() is None:
            child.kill()
            child.wait()


def rejection_summary(logs: Path) -> list[str]:
    """The channel's drops and the receiver's rejections, from the counters lines of their logs."""
    out = []
    for role in ("channel", "receiver"):
        try:
            lines = (logs / f"{role}.log").read_text().splitlines()
        except OSError:
            continue
        prefix = f"{COUNTERS_PREFIX} {role} "
        found = [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]
        words = [w for w in (found[-1].split() if found else []) if w.startswith(("rejected:", "dropped:"))]
        if words:
            out.append(f"the {role} turned away messages: {' '.join(words)}")
    return out


def work_summary(logs: Path) -> dict[str, Any]:
    """The nodes' work files (``logs/<role>.work.json``) added up: per stage, values computed,
    cache hits and seconds."""
    total = WorkStats()
    for role in ROLES:
        with contextlib.suppress(OSError, ValueError):
            total.merge(json.loads((logs / f"{role}{WORK_SUFFIX}").read_text()))
    return total.to_dict()


def write_work(out: Path, work: dict[str, Any]) -> None:
    """``OUT/work.json``: what this invocation's stages did (the report shows it)."""
    (out / WORK_FILE).write_text(json.dumps(work, indent=1) + "\n")


def last_line(path: Path) -> str:
    """The last non-empty line of a log (the node's one-line error)."""
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(no output)"


class RunProgress:
    """Points and frames progress (bars on a terminal, log lines elsewhere), fed by the
    receiver's JSON lines or direct calls.

    :param console: where to draw. :param points: points (realisations of points) to run.
    :param frames: frames per point.
    """

    def __init__(self, console: Console, points: int, frames: int) -> None:
        self.frames = frames
        self.display = progress_display({"points": points, "frames": points * frames}, "run", console)
        self._lock = threading.Lock()

    def __enter__(self) -> RunProgress:
        self.display.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.display.__exit__(*exc)

    def cache_rate(self, hits: int, lookups: int) -> None:
        """Show the work cache's hit rate so far (``hits`` of ``lookups``)."""
        if lookups:
            self.display.note(f"cache {100 * hits / lookups:.0f} % hits")

    def points_done(self, count: int) -> None:
        """``count`` points (realisations) finished whole, their frames with them."""
        with self._lock:
            self.display.advance("frames", count * self.frames)
            self.display.advance("points", count)

    def on_frame(self, point: int, done: int) -> None:
        """A frame of ``point`` was scored; a point is done after its last frame."""
        with self._lock:
            self.display.advance("frames")
            if done == self.frames:
                self.display.advance("points")

    def follow(self, receiver: subprocess.Popen[str]) -> None:
        """Read the receiver's progress lines until it exits."""
        assert receiver.stdout is not None
        for line in receiver.stdout:  # keep draining whatever else a user's code prints
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                event = json.loads(line)
                if isinstance(event, dict) and "frame" in event:
                    self.on_frame(int(event["point"]), int(event["frame"]))
                    if "hits" in event:
                        self.cache_rate(int(event["hits"]), int(event["lookups"]))
