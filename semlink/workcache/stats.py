"""What the stages did: per-stage counts and times of one process, and a run's summary lines."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from semlink.workcache.folder import STAGES

WORK_FILE = "work.json"
"""What a run's stages did, written into its folder by ``semlink run``."""
STAGE_ORDER = ("segment-source", "encode", "channel", "decode", "segment", "score")
"""Every stage a frame meets, in order (``channel`` and ``score`` are timed, not cached)."""


@dataclass
class StageWork:
    """What one stage did: values computed (misses), values found (hits), seconds computing."""

    computed: int = 0
    hits: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {"computed": self.computed, "hits": self.hits, "seconds": round(self.seconds, 3)}


@dataclass
class WorkStats:
    """Per-stage counts and times of one process (``channel`` and ``score`` are timed, not cached),
    entries found damaged or not their key's (``torn``) and entries evicted."""

    stages: dict[str, StageWork] = field(default_factory=dict)
    torn: int = 0
    evicted: int = 0

    def stage(self, name: str) -> StageWork:
        """The counters of stage ``name`` (created on first use)."""
        return self.stages.setdefault(name, StageWork())

    def timed(self, name: str) -> _Timer:
        """``with stats.timed("channel"): ...`` adds the block's time to the stage."""
        return _Timer(self.stage(name))

    def hit_counts(self) -> tuple[int, int]:
        """``(hits, lookups)`` over the cached stages."""
        hits = sum(w.hits for name, w in self.stages.items() if name in STAGES)
        return hits, hits + sum(w.computed for name, w in self.stages.items() if name in STAGES)

    def merge(self, other: dict[str, Any]) -> None:
        """Add the counts and times of another process's :meth:`to_dict`."""
        for name, done in other.get("stages", {}).items():
            work = self.stage(name)
            work.computed += int(done["computed"])
            work.hits += int(done["hits"])
            work.seconds += float(done["seconds"])
        self.torn += int(other.get("torn", 0))
        self.evicted += int(other.get("evicted", 0))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the nodes report them as one JSON line)."""
        return {
            "stages": {name: work.to_dict() for name, work in self.stages.items()},
            "torn": self.torn,
            "evicted": self.evicted,
        }


class _Timer:
    def __init__(self, work: StageWork) -> None:
        self.work = work

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.work.seconds += time.perf_counter() - self.started


def work_lines(work: dict[str, Any]) -> list[str]:
    """A run's work, one line per stage in the order a frame meets them:
    ``encode: 120 computed, 360 from the cache, 10.2 s``."""
    stages: dict[str, dict[str, Any]] = work.get("stages", {})
    lines = []
    for name in STAGE_ORDER:
        if name in stages:
            done = stages[name]
            counts = f"{done['computed']} computed, {done['hits']} from the cache, " if name in STAGES else ""
            lines.append(f"{name}: {counts}{float(done['seconds']):.1f} s")
    return lines
