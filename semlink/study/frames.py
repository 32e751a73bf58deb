"""The frame sources of a study: opened once per frame size and rate, frames kept within a budget."""

from __future__ import annotations

import dataclasses

from semlink.data import open_source
from semlink.data.frame import Frame, FrameSource
from semlink.scenario.schema import Scenario
from semlink.scenario.sweep import Point, points


class CachedSource(FrameSource):
    """Keeps the frames of a source once loaded, so every point reuses them, within a memory budget.

    :param source: the underlying source. :param count: frames the run uses.
    :param budget_bytes: the most image and label bytes kept; the oldest frames go first beyond it.
    """

    def __init__(self, source: FrameSource, count: int, budget_bytes: int = 1 << 30) -> None:
        self.source, self.count, self.budget = source, min(count, len(source)), budget_bytes
        self.label_set = source.label_set
        self._frames: dict[int, Frame] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return self.count

    def frame(self, index: int) -> Frame:
        """The frame, loaded on first use."""
        cached = self._frames.get(index)
        if cached is not None:
            return cached
        frame = self.source.frame(index)
        size = frame.image.nbytes + frame.labels.nbytes
        while self._frames and self._bytes + size > self.budget:
            oldest = next(iter(self._frames))
            evicted = self._frames.pop(oldest)
            self._bytes -= evicted.image.nbytes + evicted.labels.nbytes
        self._frames[index] = frame
        self._bytes += size
        return frame


class DriveSource(FrameSource):
    """One vehicle's drive: ``len(base)`` frames of the underlying source starting ``offset``
    frames in (wrapping round at its end), numbered from 0 as the vehicle captures them.

    :param base: the point's frames (vehicle 0's drive). :param offset: where this drive starts.
    """

    def __init__(self, base: CachedSource, offset: int) -> None:
        self.base, self.offset = base, offset
        self.label_set = base.label_set
        self.total = len(base.source)

    def __len__(self) -> int:
        return len(self.base)

    def frame(self, index: int) -> Frame:
        """Frame ``index`` of the drive."""
        frame = self.base.frame((self.offset + index) % self.total)
        return frame if frame.index == index else dataclasses.replace(frame, index=index)


class Sources:
    """The run's frame sources, one per frame size and rate that its points use, opened once.

    :param scenario: the scenario (data settings and seed).
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._opened: dict[tuple[tuple[int, int] | None, float], CachedSource] = {}
        self._drives: dict[tuple[int, tuple[int, int] | None, float], FrameSource] = {}

    def get(self, size: tuple[int, int] | None, fps: float) -> CachedSource:
        """The source at ``size`` (None: the source's own) and frame rate ``fps``."""
        data = self.scenario.data
        fps_key = fps if data.source == "synthetic" and data.sequence > 1 else 0.0
        key = (size, fps_key)
        if key not in self._opened:
            source = open_source(
                data.source, data.split, size, data.root, seed=self.scenario.seed, sequence=data.sequence, fps=fps
            )
            self._opened[key] = CachedSource(source, data.frames)
        return self._opened[key]

    def of(self, point: Point) -> CachedSource:
        """The source of one point."""
        return self.get(point.size, point.link.fps)

    def drive(self, point: Point, vehicle: int) -> FrameSource:
        """Vehicle ``vehicle``'s frames at ``point``: its own stretch of the source, ``vehicle x
        frames`` in (vehicle 0's is :meth:`of`'s, so one vehicle sees what a single link sees)."""
        base = self.of(point)
        if vehicle == 0:
            return base
        key = (vehicle, point.size, point.link.fps)
        if key not in self._drives:
            self._drives[key] = DriveSource(base, vehicle * len(base))
        return self._drives[key]


def open_frames(scenario: Scenario) -> CachedSource:
    """The scenario's first frame source (clear errors for a bad source): the one of its first point."""
    first = points(scenario)[0]
    return Sources(scenario).of(first)


def resolve(scenario: Scenario, source: FrameSource) -> Scenario:
    """Fill what the scenario left open (the frame size, the frame count the source has)."""
    update: dict[str, object] = {"frames": len(source)}
    if scenario.data.size is None:
        shape = source.frame(0).image.shape[:2]
        update["size"] = (int(shape[0]), int(shape[1]))
    return scenario.model_copy(update={"data": scenario.data.model_copy(update=update)})
