"""The study: everything a run decides once, built once and handed to an executor.

A :class:`Study` holds the scenario (resolved: frame size and count filled in where ``resolve``
was asked), its points, the label set of its frames and the frames per point. It is built once per
run (:meth:`Study.build`: the sweep expanded, every distinct codec and channel built once to check
its settings) and reaches node and worker processes as one JSON description
(:meth:`Study.to_json` / :meth:`Study.from_json`): they rebuild it without parsing YAML or
expanding the sweep again. The heavy parts (frame sources, segmenters, metrics, codecs) are made
on first use in each process and kept: a codec is built once per setting per process.

Example::

    study = Study.build(load_scenario(Path("scenarios/quickstart.yaml")), "quickstart.yaml")
    text = study.to_json(pending=[0, 3])      # what a node process gets
    again, pending = Study.from_json(text)    # the same points, keys and settings
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from semlink.codecs.base import Codec
from semlink.scenario.schema import Scenario, ScenarioError
from semlink.scenario.sweep import Point, PointLink, points
from semlink.study.components import Segmenters, check_points, codec_factory, codec_key
from semlink.study.frames import Sources, open_frames, resolve
from semlink.study.trials import Trial, trials, vehicle_stride

DESCRIPTION_VERSION = 1
"""The version of :meth:`Study.to_json`'s format; a description of another version is refused."""


@dataclass
class Study:
    """A run's scenario, points and components, built once.

    :param scenario: the scenario its points were expanded from.
    :param origin: where the scenario came from (for messages).
    :param points: the sweep, in order (:func:`semlink.scenario.sweep.points`).
    :param label_set: the frames' label set name (None: not opened, e.g. the channel's study).
    :param frames: frames per point (0: not opened).
    """

    scenario: Scenario
    origin: str
    points: list[Point]
    label_set: str | None = None
    frames: int = 0
    _sources: Sources | None = field(default=None, repr=False)
    _segmenters: Segmenters | None = field(default=None, repr=False)
    _codecs: dict[str, Codec] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, scenario: Scenario, origin: str, resolve_frames: bool = True, check: bool = True) -> Study:
        """The study of ``scenario``: frames opened (clear errors for a bad source) and, with
        ``resolve_frames``, the frame size and count filled in before the sweep is expanded;
        with ``check``, every distinct codec and channel built once so bad values fail here.

        :raises ScenarioError: in one line, for a bad source or a bad setting of some point.
        """
        source = open_frames(scenario)
        resolved = resolve(scenario, source) if resolve_frames else scenario
        label_set = source.label_set.name
        sweep = check_points(resolved, origin, label_set) if check else points(resolved, origin)
        return cls(resolved, origin, sweep, label_set, len(source))

    @classmethod
    def of_points(cls, scenario: Scenario, origin: str) -> Study:
        """A study that never opens frames (the channel's): the sweep as ``scenario`` gives it."""
        return cls(scenario, origin, points(scenario, origin))

    @property
    def sources(self) -> Sources:
        """The frame sources of the study's points, opened on first use."""
        if self._sources is None:
            self._sources = Sources(self.scenario)
        return self._sources

    @property
    def segmenters(self) -> Segmenters:
        """The segmenters of the study's points, loaded on first use."""
        if self._segmenters is None:
            self._segmenters = Segmenters(self.scenario.device)
        return self._segmenters

    def select(self, indices: set[int] | None) -> list[Point]:
        """The points with these sweep indices (all for None), in sweep order."""
        return [p for p in self.points if indices is None or p.index in indices]

    def trials(self, indices: set[int] | None = None) -> list[Trial]:
        """Every channel realisation (and vehicle) of the selected points, point by point."""
        return trials(self.scenario, self.select(indices), vehicle_stride(self.points))

    def units(self, indices: set[int] | None = None) -> int:
        """How many units (realisations, and vehicles of each) the selected points send."""
        return sum(max(p.vehicles, 1) for p in self.select(indices)) * self.scenario.repeat_count

    def codec(self, point: Point) -> tuple[Callable[[], Codec], str]:
        """The point's codec as a factory that returns one shared instance per setting, and its
        cache key (see :func:`semlink.study.components.codec_key`)."""
        factory = codec_factory(point.codec, point.codec_args, self.label_set, self.scenario.device)
        key = codec_key(factory)
        return functools.partial(self._shared_codec, key, factory), key

    def _shared_codec(self, key: str, factory: Callable[[], Codec]) -> Codec:
        if key not in self._codecs:
            self._codecs[key] = factory()
        return self._codecs[key]

    def to_json(self, pending: Sequence[int] | None = None) -> str:
        """The study as one JSON text (with the points to run, None: all), for another process."""
        return json.dumps(
            {
                "version": DESCRIPTION_VERSION,
                "origin": self.origin,
                "scenario": self.scenario.model_dump(mode="json"),
                "label_set": self.label_set,
                "frames": self.frames,
                "points": [point_description(p) for p in self.points],
                "pending": None if pending is None else sorted(pending),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> tuple[Study, set[int] | None]:
        """The study of :meth:`to_json` and its pending points.

        :raises ScenarioError: if ``text`` is not such a description.
        """
        try:
            data = json.loads(text)
            if data.get("version") != DESCRIPTION_VERSION:
                raise ValueError(f"version {data.get('version')!r}, this semlink reads {DESCRIPTION_VERSION}")
            scenario = Scenario.model_validate(data["scenario"])
            sweep = [point_from_description(p) for p in data["points"]]
            pending = None if data["pending"] is None else {int(i) for i in data["pending"]}
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ScenarioError(f"not a study description ({error}); start nodes with `semlink run`") from None
        return cls(scenario, str(data["origin"]), sweep, data["label_set"], int(data["frames"])), pending


def point_description(point: Point) -> dict[str, Any]:
    """A point as plain JSON values."""
    return asdict(point)


def point_from_description(data: dict[str, Any]) -> Point:
    """The point of :func:`point_description`."""
    size = data["size"]
    return Point(
        **{**data, "link": PointLink(**data["link"]), "size": None if size is None else (int(size[0]), int(size[1]))}
    )
