"""The executor contract: a study and its pending points in, rows out in sweep order.

An :class:`Executor` runs the pending points of a :class:`~semlink.study.study.Study` into an
output folder whose ``results.csv`` (and ``frames.jsonl``) it leaves as one pipeline over those
points would write them, row by row in sweep order. Executors register by name in
:data:`EXECUTORS`; :func:`executor_name` picks one from the command line's choices, once, by
lookup. A new executor (Dask, Slurm through submitit) is one module with one subclass and one
line in :data:`EXECUTORS`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from semlink.executors.progress import RunProgress
from semlink.study.study import Study


@dataclass(frozen=True)
class RunContext:
    """What an executor needs besides the study.

    :param out: the run's folder. :param run_id: the run's id on the wire (drawn per run).
    :param workers: pipelines at once (pooled executors). :param address: a Ray cluster's address.
    """

    out: Path
    run_id: int
    workers: int = 1
    address: str | None = None


class Executor(ABC):
    """Runs a study's pending points; subclasses say how (see the module docstring).

    :param context: the run's folder, id and pool settings.
    """

    name: ClassVar[str]
    """The executor's name in :data:`EXECUTORS`."""

    def __init__(self, context: RunContext) -> None:
        self.context = context

    def prepare(self, study: Study, pending: set[int]) -> set[int]:
        """The points still to run once what earlier runs left behind is taken in (default: all)."""
        return pending

    @abstractmethod
    def run(self, study: Study, pending: set[int], progress: RunProgress) -> dict[str, Any]:
        """Run ``pending`` (sweep indices) into the context's folder, advancing ``progress``;
        returns what the stages did (:meth:`semlink.workcache.WorkStats.to_dict`).

        :raises StageError: in one line, when a node, unit or task fails (finished rows are kept).
        """


def executor_name(executor: str, workers: int, transport: str) -> str:
    """The registered executor for the command line's ``--executor``, ``--workers`` and the
    scenario's ``transport``."""
    if executor != "local":
        return executor
    if workers > 1:
        return "workers"
    return "inproc" if transport == "inproc" else "processes"


EXECUTORS: dict[str, str] = {
    "inproc": "semlink.executors.inproc:InprocExecutor",
    "processes": "semlink.executors.processes:ProcessExecutor",
    "workers": "semlink.executors.workers:WorkersExecutor",
    "ray": "semlink.executors.ray:RayExecutor",
}
"""Executor name -> its class's import path, imported when chosen (so this module imports none of
them, and choosing one costs only its own imports)."""


def executor_class(name: str) -> type[Executor]:
    """The executor registered as ``name``.

    :raises KeyError: for a name no executor has.
    """
    module, _, attribute = EXECUTORS[name].partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    assert isinstance(cls, type) and issubclass(cls, Executor)
    return cls
