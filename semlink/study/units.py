"""Units: the pending points of a pooled run (``--workers N``, Ray) cut into runs of
consecutive sweep points.

One to three units per worker (three so a slow unit does not hold the others up, fewer when units
would hold fewer than ``MIN_UNIT_POINTS`` points, as every unit pays the start of its processes:
about 3 s a point on the quickstart on 2 cores); consecutive points share codec settings, so two
workers rarely encode the same frames at once. How units run and merge:
:mod:`semlink.executors.workers`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

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


def unit_tag() -> str:
    """A prefix for this run's unit folders that no earlier run's folders share."""
    return f"{int(time.time())}-{os.getpid()}"
