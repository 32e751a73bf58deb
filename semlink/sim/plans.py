"""From a scenario to the stage objects: frame source, codecs, channels, plans and seeds."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable

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


def open_frames(scenario: Scenario) -> CachedSource:
    """The scenario's frames (clear errors for a bad source)."""
    data = scenario.data
    size = (data.size[0], data.size[1]) if data.size is not None else None
    source = open_source(
        data.source, data.split, size, data.root, seed=scenario.seed, sequence=data.sequence, fps=scenario.link.fps
    )
    return CachedSource(source, data.frames)


def resolve(scenario: Scenario, source: FrameSource) -> Scenario:
    """Fill what the scenario left open (the frame size, the frame count the source has)."""
    shape = source.frame(0).image.shape[:2]
    data = scenario.data.model_copy(update={"size": (int(shape[0]), int(shape[1])), "frames": len(source)})
    return scenario.model_copy(update={"data": data})


def codec_factory(point: Point, label_set: str | None = None, device: str = "auto") -> Callable[[], Codec]:
    """Builds the point's codec with its knob and options; codecs with a model of the frames'
    classes (``uses_label_set``) also get the label set's name and the device."""
    factory = CODECS.get(point.codec)
    kwargs: dict[str, object] = {**point.options, point.knob: point.value}
    if getattr(factory, "uses_label_set", False) and label_set is not None:
        kwargs.setdefault("label_set", label_set)
        kwargs.setdefault("device", device)
    return functools.partial(factory, **kwargs)


def needs_segmenter(sweep: list[Point]) -> bool:
    """Whether any point's codec sends the segmentation map (then the transmitter segments frames)."""
    return any(getattr(CODECS.get(p.codec), "uses_ssm", False) for p in sweep)


def check_points(scenario: Scenario, origin: str, label_set: str | None = None) -> list[Point]:
    """Expand the sweep and build every codec and channel once, so bad values fail before any work.

    Codecs with a model of the frames' classes are built only when ``label_set`` is given (the
    nodes that hold the frames); the others check their knobs anyway.
    """
    sweep = points(scenario)
    for point in sweep:
        try:
            if label_set is not None or not getattr(CODECS.get(point.codec), "uses_label_set", False):
                codec_factory(point, label_set, scenario.device)()
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
    """The transmitter stage for the points in ``only`` (all if None), with the segmenter that
    makes the maps if any of their codecs sends one."""
    chosen = [p for p in sweep if only is None or p.index in only]
    label_set = source.label_set.name
    plans = [TxPlan(p.index, p.key, codec_factory(p, label_set, scenario.device), len(source)) for p in chosen]
    segmenter = (
        segmenter_for(source.label_set, scenario.segmenter, scenario.device) if needs_segmenter(chosen) else None
    )
    mtu = resolve_mtu(scenario.link.mtu)
    return TransmitterStage(source, plans, mtu, frame_interval_us(scenario), run_id, segmenter)


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
    scenario: Scenario,
    sweep: list[Point],
    source: FrameSource,
    on_point: Callable[[PointReport], None],
    skip: set[str] | None = None,
) -> ReceiverStage:
    """The receiver stage with its segmenter and timing; points whose keys are in ``skip`` are not scored."""
    plans = {
        p.index: RxPlan(
            p.key,
            codec_factory(p, source.label_set.name, scenario.device),
            len(source),
            bool(p.params.get("deliver_corrupt", False)),
        )
        for p in sweep
    }
    link = scenario.link
    deadline = None if link.deadline_ms is None else round(link.deadline_ms * 1000)
    timing = LinkTiming(frame_interval_us(scenario), deadline, link.window, link.conceal)
    segmenter = segmenter_for(source.label_set, scenario.segmenter, scenario.device)
    return ReceiverStage(source, plans, segmenter, timing, on_point, skip or set())
