"""The components of a study's points: the one codec factory, setting checks, segmenters, the work cache."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from semlink.channel import build_channel
from semlink.channel.impairments import Impairments
from semlink.codecs.base import Codec, codec_class
from semlink.data.frame import FrameSource
from semlink.scenario.schema import Scenario, ScenarioError
from semlink.scenario.sweep import Point, points
from semlink.settings import check_names, settings_of
from semlink.vision.segmenter import Segmenter, segmenter_for, segmenter_identity
from semlink.workcache import WorkCache


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
    """Refuse a setting the codec does not take (and a required one missing), listing the ones
    it takes (:func:`semlink.settings.check_names`; a constructor with ``**kwargs`` takes any).

    :raises ValueError: in one line, naming the codec and the setting.
    """
    check_names(f"codec {codec}", settings_of(factory), args)


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
