"""The in-process executor (``transport: inproc``): the study's three stages called directly in
one process, the same objects the node processes run, so the rows are the same."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from semlink.executors.base import Executor
from semlink.executors.progress import RunProgress
from semlink.metrics import build_metrics
from semlink.nodes.loops import reporter
from semlink.nodes.threads import use_threads
from semlink.results.writer import ResultsWriter
from semlink.study.components import work_cache
from semlink.study.frames import resolve
from semlink.study.stages import make_channel, make_receiver, make_transmitter
from semlink.study.study import Study
from semlink.workcache import WorkStats


class InprocExecutor(Executor):
    """Transmitter, channel and receiver stages in this process."""

    name = "inproc"

    def run(self, study: Study, pending: set[int], progress: RunProgress) -> dict[str, Any]:
        """Run ``pending`` through the stages in order; returns what they did."""
        stats = WorkStats()

        def on_frame(point: int, done: int) -> None:
            progress.on_frame(point, done)
            progress.cache_rate(*stats.hit_counts())

        inproc_run(study, self.context.out, pending, self.context.run_id, on_frame, stats)
        return stats.to_dict()


def inproc_run(
    study: Study,
    out: Path,
    only: set[int] | None,
    run_id: int,
    on_frame: Callable[[int, int], None] | None = None,
    stats: WorkStats | None = None,
) -> dict[str, int]:
    """The stages of ``study`` called directly in one process for the points in ``only`` (all for
    None); returns the receiver's counters and adds what the stages did to ``stats``."""
    scenario = study.scenario
    use_threads(scenario.compute_threads)
    first = study.sources.of(study.points[0])
    metrics = build_metrics(scenario.metrics, first.label_set)
    writer = ResultsWriter(out, resolve(scenario, first), study.points, metrics)
    cache = work_cache(scenario, out)
    if stats is not None:
        cache.stats = stats
    transmitter = make_transmitter(study, run_id, only, cache)
    channel = make_channel(study, run_id)
    receiver = make_receiver(study, metrics, reporter(writer, False), run_id, cache=cache)
    if on_frame is not None:
        receiver.on_frame = on_frame
    with quiet_stages():
        for parts in transmitter.messages():
            with cache.stats.timed("channel"):
                forwarded = channel.process(parts)
            if forwarded:
                receiver.handle(forwarded)
    return dict(receiver.counters)


STAGE_LOGGERS = ("semlink.transmitter.node", "semlink.channel.node", "semlink.receiver.node", "semlink.nodes.loops")
"""The stages' loggers: their per-point lines go to each node's log file in a process run."""


@contextlib.contextmanager
def quiet_stages() -> Iterator[None]:
    """Keep the stages' per-point lines (``point 3 relayed: ...``) out of the one progress stream
    of an in-process run, unless ``-v`` asked for debug output; warnings still show."""
    if logging.getLogger("semlink").getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    loggers = [logging.getLogger(name) for name in STAGE_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
