"""From a scenario to the stage objects: frame source, codecs, channels, plans and seeds."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from semlink.channel import build_channel
from semlink.channel.base import ChannelModel
from semlink.channel.impairments import Impairments
from semlink.channel.node import ChannelPlan, ChannelStage
from semlink.codecs import CODECS
from semlink.codecs.base import Codec
from semlink.data import open_source
from semlink.data.frame import Frame, FrameSource
from semlink.receiver.node import LinkTiming, PointReport, ReceiverStage, RxPlan
from semlink.sim.scenario import Point, Scenario, ScenarioError, points
from semlink.transmitter.node import TransmitterStage, TxPlan
from semlink.transmitter.packetizer import resolve_mtu
from semlink.vision.segmenter import segmenter_for

# Named random streams drawn from the run's one seed (numpy SeedSequence entropy words).
STREAM_CHANNEL = 1


class CachedSource(FrameSource):
    """Keeps the frames of a source once loaded, so every point reuses them.

    :param source: the underlying source. :param count: frames the run uses.
    """

    def __init__(self, source: FrameSource, count: int) -> None:
        self.source, self.count = source, min(count, len(source))
        self.label_set = source.label_set
        self._frames: dict[int, Frame] = {}

    def __len__(self) -> int:
        return self.count

    def frame(self, index: int) -> Frame:
        """The frame, loaded on first use."""
        if index not in self._frames:
            self._frames[index] = self.source.frame(index)
        return self._frames[index]


def open_frames(scenario: Scenario) -> CachedSource:
    """The scenario's frames (clear errors for a bad source)."""
    data = scenario.data
    size = (data.size[0], data.size[1]) if data.size is not None else None
    source = open_source(data.source, data.split, size, data.root, seed=scenario.seed, sequence=data.sequence)
    return CachedSource(source, data.frames)


def resolve(scenario: Scenario, source: FrameSource) -> Scenario:
    """Fill what the scenario left open (the frame size, the frame count the source has)."""
    shape = source.frame(0).image.shape[:2]
    data = scenario.data.model_copy(update={"size": (int(shape[0]), int(shape[1])), "frames": len(source)})
    return scenario.model_copy(update={"data": data})


def codec_factory(point: Point) -> Callable[[], Codec]:
    """Builds the point's codec with its knob."""
    factory = CODECS.get(point.codec)
    return functools.partial(factory, **{point.knob: point.value})


def check_points(scenario: Scenario, origin: str) -> list[Point]:
    """Expand the sweep and build every codec and channel once, so bad values fail before any work."""
    sweep = points(scenario)
    for point in sweep:
        try:
            codec_factory(point)()
            build_channel(point.channel, **point.params)
            Impairments(**point.impairments)
        except (ValueError, TypeError, KeyError) as error:
            raise ScenarioError(
                f"scenario {origin}: point {point.index} ({point.codec} {point.knob}={point.value:g}, "
                f"{point.channel} {point.params}): {error}"
            ) from None
    return sweep


def run_id(scenario: Scenario) -> int:
    """The run's id on the wire, derived from the scenario so packet sizes (and results) repeat exactly."""
    return zlib.crc32(f"{scenario.name}:{scenario.seed}".encode()) & 0x7FFFFFFF


def frame_interval_us(scenario: Scenario) -> int:
    """Simulated microseconds between frames."""
    return round(1e6 / scenario.link.fps)


def make_transmitter(
    scenario: Scenario, sweep: list[Point], source: FrameSource, run_id: int, only: set[int] | None = None
) -> TransmitterStage:
    """The transmitter stage for the points in ``only`` (all if None)."""
    plans = [TxPlan(p.index, p.key, codec_factory(p), len(source)) for p in sweep if only is None or p.index in only]
    return TransmitterStage(source, plans, resolve_mtu(scenario.link.mtu), frame_interval_us(scenario), run_id)


def make_channel(scenario: Scenario, sweep: list[Point]) -> ChannelStage:
    """The channel stage: each point's model, impairments and seeded stream."""
    plans = {}
    for p in sweep:
        make: Callable[[], ChannelModel] = functools.partial(build_channel, p.channel, **p.params)
        plans[p.index] = ChannelPlan(
            p.key, make, Impairments(**p.impairments), (scenario.seed, STREAM_CHANNEL, p.key_id)
        )
    return ChannelStage(plans)


def make_receiver(
    scenario: Scenario, sweep: list[Point], source: FrameSource, on_point: Callable[[PointReport], None]
) -> ReceiverStage:
    """The receiver stage with its segmenter and timing."""
    plans = {
        p.index: RxPlan(p.key, codec_factory(p), len(source), bool(p.params.get("deliver_corrupt", False)))
        for p in sweep
    }
    link = scenario.link
    deadline = None if link.deadline_ms is None else round(link.deadline_ms * 1000)
    timing = LinkTiming(frame_interval_us(scenario), deadline, link.window, link.conceal)
    segmenter = segmenter_for(source.label_set, scenario.segmenter, scenario.device)
    return ReceiverStage(source, plans, segmenter, timing, on_point)


def seed_words(scenario: Scenario, stream: int, point: Point) -> list[int]:
    """Entropy of a point's named random stream."""
    return [scenario.seed, stream, point.key_id]


def rng_for(scenario: Scenario, stream: int, point: Point) -> np.random.Generator:
    """A point's named random stream."""
    return np.random.default_rng(np.random.SeedSequence(seed_words(scenario, stream, point)))


def describe(point: Point) -> dict[str, Any]:
    """A short description of a point for progress lines."""
    return {"codec": point.codec, point.knob: point.value, "channel": point.channel, **point.params}
