"""From a scenario to the stage objects: frame source, codecs, channels, plans and seeds."""

from __future__ import annotations

import functools
import inspect
import json
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from semlink.channel import build_channel
from semlink.channel.base import ChannelModel
from semlink.channel.impairments import Impairments
from semlink.channel.node import ChannelPlan, ChannelStage
from semlink.codecs.base import Codec, codec_class
from semlink.data import open_source
from semlink.data.frame import Frame, FrameSource
from semlink.errors import did_you_mean
from semlink.metrics.base import Metric
from semlink.receiver.node import LinkTiming, PointReport, ReceiverStage, RxPlan
from semlink.sim.scenario import Scenario, ScenarioError
from semlink.sim.sweep import Point, points
from semlink.transmitter.node import TransmitterStage, TxPlan
from semlink.transmitter.packetizer import resolve_mtu
from semlink.vision.segmenter import Segmenter, segmenter_for, segmenter_identity
from semlink.wire import RUN_IDS
from semlink.workcache import WorkCache

# Named random streams drawn from the run's one seed (numpy SeedSequence entropy words).
STREAM_CHANNEL = 1
STREAM_BOOTSTRAP = 2


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


class Sources:
    """The run's frame sources, one per frame size and rate that its points use, opened once.

    :param scenario: the scenario (data settings and seed).
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._opened: dict[tuple[tuple[int, int] | None, float], CachedSource] = {}

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


def codec_factory(
    codec: str, args: dict[str, object], label_set: str | None = None, device: str = "auto"
) -> Callable[[], Codec]:
    """Builds a codec with its keyword arguments; codecs with a model of the frames' classes
    (``uses_label_set``) also get the label set's name and the device.

    The one codec factory of runs and of ``semlink eval``.
    """
    factory = codec_class(codec)
    check_settings(codec, factory, args)
    kwargs = dict(args)
    if factory.uses_label_set and label_set is not None:
        kwargs.setdefault("label_set", label_set)
        kwargs.setdefault("device", device)
    return functools.partial(factory, **kwargs)


def check_settings(codec: str, factory: Callable[..., Codec], args: dict[str, object]) -> None:
    """Refuse a setting the codec's constructor does not take, listing the ones it does.

    :raises ValueError: in one line, naming the codec and the setting.
    """
    parameters = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    for key in args:
        if key not in parameters:
            names = [name for name in parameters if name not in ("label_set", "device")]
            hint = did_you_mean(key, names)
            raise ValueError(f"codec {codec} has no setting {key!r}{hint}; its settings: {', '.join(names) or 'none'}")


def point_codec(point: Point, label_set: str | None = None, device: str = "auto") -> Callable[[], Codec]:
    """The codec factory of a point."""
    return codec_factory(point.codec, point.codec_args, label_set, device)


def codec_key(factory: Callable[[], Codec]) -> str:
    """A codec factory's class and arguments as the work cache keys them (see :func:`codec_factory`)."""
    assert isinstance(factory, functools.partial)
    cls = factory.func
    name = f"{getattr(cls, '__module__', '?')}:{getattr(cls, '__qualname__', repr(cls))}"
    return json.dumps([name, factory.keywords], sort_keys=True, default=str)


def frame_batch(scenario: Scenario) -> int:
    """Frames coded together: the scenario's ``batch``, else 8 on CUDA and 1 on the CPU (where a
    batch is slower: ``benchmarks/bench_semantic.py`` measured 0.79x the frames/s at batch 8)."""
    if scenario.batch is not None:
        return scenario.batch
    from semlink.device import pick_device

    return 8 if pick_device(scenario.device).type == "cuda" else 1


def work_cache(scenario: Scenario, out: Path | None) -> WorkCache:
    """The run's work cache: the scenario's ``cache`` folder, ``OUT/cache`` (when the node knows
    ``out``), or none (``cache: false``, or a node without an output folder)."""
    if scenario.cache is False:
        return WorkCache(None)
    root = Path(scenario.cache) if isinstance(scenario.cache, str) else None if out is None else out / "cache"
    return WorkCache(root, int(scenario.cache_max_gb * (1 << 30)))


def check_points(scenario: Scenario, origin: str, label_set: str | None = None) -> list[Point]:
    """Expand the sweep and build every codec and channel once, so bad values fail before any work.

    Codecs with a model of the frames' classes are built only when ``label_set`` is given (the
    nodes that hold the frames); the others check their knobs anyway.
    """
    sweep = points(scenario, origin)
    built: set[str] = set()  # each distinct codec and channel is built once, however many points share it
    for point in sweep:
        codec_id = repr((point.codec, sorted(point.codec_args.items())))
        channel_id = repr((point.channel, sorted(point.params.items()), sorted(point.impairments.items())))
        try:
            if codec_id not in built and (label_set is not None or not codec_class(point.codec).uses_label_set):
                point_codec(point, label_set, scenario.device)()
            if channel_id not in built:
                build_channel(point.channel, **point.params)
                Impairments(**point.impairments)
        except (ValueError, TypeError, KeyError) as error:
            raise ScenarioError(f"scenario {origin}: point {point.index} ({point.label()}): {error}") from None
        built.update((codec_id, channel_id))
    return sweep


@dataclass(frozen=True)
class Trial:
    """One channel realisation of a point: what travels through the nodes as one unit.

    :param point: the sweep point. :param repeat: which realisation (0-based).
    :param repeats: realisations per point.
    """

    point: Point
    repeat: int
    repeats: int

    @property
    def index(self) -> int:
        """The unit's number on the wire: ``point * repeats + repeat``."""
        return self.point.index * self.repeats + self.repeat

    @property
    def key(self) -> str:
        """The point's key, with the realisation when there are several."""
        return self.point.key if self.repeats == 1 else f"{self.point.key}#{self.repeat}"


def trials(scenario: Scenario, sweep: list[Point]) -> list[Trial]:
    """Every realisation of every point, point by point."""
    count = scenario.repeat_count
    return [Trial(p, r, count) for p in sweep for r in range(count)]


def channel_seed(scenario: Scenario, trial: Trial) -> tuple[int, ...]:
    """Entropy of a realisation's channel stream: ``(seed, STREAM_CHANNEL, point key id[, repeat])``.

    With ``seeds: [...]`` the realisation's own seed takes the run seed's place; with ``repeats``
    the realisation number is appended (none for a single realisation, as before repeats existed).
    """
    key_id = trial.point.key_id
    if scenario.seeds is not None:
        return (scenario.seeds[trial.repeat], STREAM_CHANNEL, key_id)
    if trial.repeats == 1:
        return (scenario.seed, STREAM_CHANNEL, key_id)
    return (scenario.seed, STREAM_CHANNEL, key_id, trial.repeat)


PARENT_ENV = "SEMLINK_PARENT_PID"
"""Set by ``semlink run`` in its children: their parent's pid (they die with it; it checked the scenario)."""
RUN_ID_ENV = "SEMLINK_RUN_ID"
"""Where a run's nodes find its id: ``semlink run`` draws one and hands it to its children here."""


def run_id(scenario: Scenario) -> int:
    """The run's id on the wire: ``$SEMLINK_RUN_ID`` where the parent (or the user, for nodes started
    by hand or by compose) set it, else one derived from the scenario's name and seed.

    Stages drop every message of another run id, so traffic of other runs never changes a row.
    The derived id is guessable: nodes started apart should share a ``SEMLINK_RUN_ID``.

    :raises ScenarioError: if ``$SEMLINK_RUN_ID`` is not an int in :data:`semlink.wire.RUN_IDS`.
    """
    low, high = RUN_IDS
    given = os.environ.get(RUN_ID_ENV)
    if given is None:
        return low + zlib.crc32(f"{scenario.name}:{scenario.seed}".encode())
    if not given.isdigit() or not low <= int(given) <= high:
        raise ScenarioError(f"{RUN_ID_ENV}={given[:30]!r} must be an integer in [{low}, {high}]; unset it or fix it")
    return int(given)


def frame_interval_us(fps: float) -> int:
    """Simulated microseconds between frames."""
    return round(1e6 / fps)


class Segmenters:
    """The run's segmenters, one per spec its points name, loaded once."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._loaded: dict[tuple[str, str | None], Segmenter] = {}
        self._keys: dict[tuple[str, str | None], str] = {}

    def get(self, source: FrameSource, spec: str | None) -> Segmenter:
        """The segmenter ``spec`` for the source's label set."""
        key = (source.label_set.name, spec)
        if key not in self._loaded:
            self._loaded[key] = segmenter_for(source.label_set, spec, self.device)
        return self._loaded[key]

    def key(self, source: FrameSource, spec: str | None) -> str:
        """The segmenter's identity for the work cache (checkpoint hash, device, versions)."""
        key = (source.label_set.name, spec)
        if key not in self._keys:
            self._keys[key] = segmenter_identity(source.label_set, spec, self.device)
        return self._keys[key]


def uses_map(point: Point) -> bool:
    """Whether the point's codec sends the segmentation map (then the transmitter segments frames)."""
    return codec_class(point.codec).uses_ssm


def make_transmitter(
    scenario: Scenario,
    sweep: list[Point],
    sources: Sources,
    run_id: int,
    only: set[int] | None = None,
    cache: WorkCache | None = None,
) -> TransmitterStage:
    """The transmitter stage for the points in ``only`` (all if None): each realisation with its
    source, MTU, timing and (for codecs that send a map) segmenter; ``cache``: the work cache."""
    segmenters = Segmenters(scenario.device)
    plans = []
    for trial in trials(scenario, [p for p in sweep if only is None or p.index in only]):
        p, source = trial.point, sources.of(trial.point)
        factory = point_codec(p, source.label_set.name, scenario.device)
        plans.append(
            TxPlan(
                trial.index,
                trial.key,
                factory,
                len(source),
                source=source,
                mtu=resolve_mtu(p.link.mtu),
                frame_interval_us=frame_interval_us(p.link.fps),
                segmenter=segmenters.get(source, p.segmenter) if uses_map(p) else None,
                reuse_key=p.key,
                codec_key=codec_key(factory),
                segmenter_key=segmenters.key(source, p.segmenter) if uses_map(p) else "",
            )
        )
    return TransmitterStage(plans, run_id, cache, frame_batch(scenario))


def make_channel(scenario: Scenario, sweep: list[Point], run: int) -> ChannelStage:
    """The channel stage of run ``run``: each realisation's model, impairments and seeded stream."""
    plans = {}
    for trial in trials(scenario, sweep):
        p = trial.point
        make: Callable[[], ChannelModel] = functools.partial(build_channel, p.channel, **p.params)
        plans[trial.index] = ChannelPlan(trial.key, make, Impairments(**p.impairments), channel_seed(scenario, trial))
    return ChannelStage(plans, run)


def make_receiver(
    scenario: Scenario,
    sweep: list[Point],
    sources: Sources,
    metrics: Sequence[Metric],
    on_point: Callable[[PointReport], None],
    run: int,
    skip: set[str] | None = None,
    cache: WorkCache | None = None,
) -> ReceiverStage:
    """The receiver stage of run ``run``: each realisation's decoder, source, timing and segmenter;
    realisations whose points' keys are in ``skip`` are not scored; ``cache``: the work cache."""
    segmenters = Segmenters(scenario.device)
    batch = frame_batch(scenario)
    plans = {}
    for trial in trials(scenario, sweep):
        p, source = trial.point, sources.of(trial.point)
        link = p.link
        deadline = None if link.deadline_ms is None else round(link.deadline_ms * 1000)
        factory = point_codec(p, source.label_set.name, scenario.device)
        plans[trial.index] = RxPlan(
            trial.key,
            factory,
            len(source),
            bool(p.params.get("deliver_corrupt", False)),
            source=source,
            segmenter=segmenters.get(source, p.segmenter),
            timing=LinkTiming(frame_interval_us(link.fps), deadline, link.window, link.conceal),
            codec_key=codec_key(factory),
            segmenter_key=segmenters.key(source, p.segmenter),
            batch=batch,
        )
    skipped = {t.key for t in trials(scenario, sweep) if t.point.key in (skip or set())}
    return ReceiverStage(plans, metrics, on_point, run, skipped, cache)


def make_stages(
    scenario: Scenario,
    sweep: list[Point],
    on_point: Callable[[PointReport], None],
    skip: set[str] | None = None,
    only: set[int] | None = None,
) -> tuple[TransmitterStage, ChannelStage, ReceiverStage]:
    """The three stages of a run in one process (sharing its sources), for ``inproc`` runs and tests."""
    from semlink.metrics import build_metrics

    sources = Sources(scenario)
    metrics = build_metrics(scenario.metrics, sources.of(sweep[0]).label_set)
    run = run_id(scenario)
    transmitter = make_transmitter(scenario, sweep, sources, run, only)
    receiver = make_receiver(scenario, sweep, sources, metrics, on_point, run, skip)
    return transmitter, make_channel(scenario, sweep, run), receiver
