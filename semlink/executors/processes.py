"""The processes executor: the study's three nodes as child processes talking over ZeroMQ (the
default of ``semlink run``), started as ``python -m semlink.nodes ROLE STUDY``, never orphaned;
a transmitter per share of the vehicles where ``vehicles.per_process`` spreads them."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from semlink.errors import StageError
from semlink.executors.base import Executor
from semlink.executors.progress import RunProgress
from semlink.logs import child_flags
from semlink.nodes.endpoints import private_endpoints
from semlink.nodes.loops import WORK_ENV
from semlink.nodes.threads import node_threads, run_budget, thread_environment
from semlink.nodes.transport import COUNTERS_PREFIX
from semlink.study.study import Study
from semlink.study.trials import PARENT_ENV, RUN_ID_ENV, share_count
from semlink.workcache import WorkStats

LOG = logging.getLogger(__name__)
WORK_SUFFIX = ".work.json"
STUDY_FILE = "study.json"
"""The study description the nodes read, in the run's ``logs/`` folder."""


class ProcessExecutor(Executor):
    """Receiver, channel and transmitter as child processes over ZeroMQ."""

    name = "processes"

    def run(self, study: Study, pending: set[int], progress: RunProgress) -> dict[str, Any]:
        """Start the nodes on the run's private endpoints, follow the receiver's progress, add up
        their work."""
        logs = self.context.out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        description = logs / STUDY_FILE
        description.write_text(study.to_json(sorted(pending)))
        with private_endpoints(study.scenario.network) as endpoints:
            environment = {
                **os.environ,
                **endpoints,
                PARENT_ENV: str(os.getpid()),
                RUN_ID_ENV: str(self.context.run_id),
            }
            NodeSet(study, self.context.out, description, environment).run(progress)
        return work_summary(logs)


class NodeSet:
    """The three node processes of one run.

    :param study: the study. :param out: the run folder. :param description: the study file.
    :param environment: the nodes' environment (endpoints, parent pid, run id).
    """

    def __init__(self, study: Study, out: Path, description: Path, environment: dict[str, str]) -> None:
        self.study, self.out, self.description, self.environment = study, out, description, environment
        self.logs = out / "logs"
        self._handles: list[TextIO] = []

    def names(self) -> list[str]:
        """The node processes in start order: receiver, channel, then the transmitter, or one
        transmitter per share of the vehicles (``transmitter-0``, ...) where ``vehicles.per_process`` spreads them."""
        shares = share_count(self.study.scenario)
        senders = ["transmitter"] if shares == 1 else [f"transmitter-{k}" for k in range(shares)]
        return ["receiver", "channel", *senders]

    def run(self, progress: RunProgress) -> None:
        """Start the nodes, follow them to the end, stop what is left."""
        children: dict[str, subprocess.Popen[str]] = {}
        for stale in self.logs.glob(f"*{WORK_SUFFIX}"):  # an earlier run's, whatever its spread
            stale.unlink(missing_ok=True)
        try:
            for name in self.names():
                children[name] = self.spawn(name)
            reader = threading.Thread(target=progress.follow, args=(children["receiver"],), daemon=True)
            reader.start()
            wait_for(children, self.logs)
            reader.join(timeout=5)
        finally:
            stop_all(children)
            for handle in self._handles:
                handle.close()
            for line in rejection_summary(self.logs):
                LOG.warning("%s", line)

    def spawn(self, name: str) -> subprocess.Popen[str]:
        """One node as a child process (``name``: its role, ``-K`` for share ``K`` of the
        vehicles); stderr goes to ``logs/<name>.log``."""
        role, _, share = name.partition("-")
        command = [sys.executable, "-m", "semlink.nodes", role, str(self.description), *child_flags()]
        if role == "receiver":
            command += ["--out", str(self.out), "--progress"]
        if share:
            command += ["--share", share]
        stderr = (self.logs / f"{name}.log").open("w")
        self._handles.append(stderr)
        work = self.logs / f"{name}{WORK_SUFFIX}"
        processes = len(self.names())  # the three nodes, or two and a transmitter per share
        budget = thread_environment(node_threads(role, run_budget(self.study.scenario.threads), processes))
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE if role == "receiver" else subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            env={**self.environment, **budget, WORK_ENV: str(work)},
        )


def wait_for(children: dict[str, subprocess.Popen[str]], logs: Path) -> None:
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
            raise StageError(f"the {role} stopped with exit code {child.returncode}: {last_line(logs / f'{role}.log')}")


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
    for path in sorted(logs.glob(f"*{WORK_SUFFIX}")):
        with contextlib.suppress(OSError, ValueError):
            total.merge(json.loads(path.read_text()))
    return total.to_dict()


def last_line(path: Path) -> str:
    """The last non-empty line of a log (the node's one-line error)."""
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(no output)"
