"""Sweeps: a validated scenario expanded into points, one per combination of its axes.

Every list a scenario sets where a single value is allowed is an **axis**. The sweep is the
product of the axes, in this order (outermost first): the codec entries (in file order), then
``data.size``, ``segmenter``, ``link.*`` (in field order), ``vehicles.count``, the codec entry's own keys (knobs and
options, in file order) and last ``channel.*`` (in file order). A ``zip:`` group (``zip:
[[channel.speed_kmh, channel.fading]]``) makes axes of equal length vary together: the group
takes the place of its first member. With several codec entries, each entry's single-valued
keys count as axes too, so the knob each entry set (``quality``, ``tokens``, ...) is a column.

Axis names are dotted (``link.mtu``, ``data.size``, ``channel.snr_db``, ``codec.target_bpp``);
``results.csv`` names its columns by the short alias of :func:`column_name` (channel keys and codec
keys by their bare name, the rest dotted).
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from semlink.scenario.schema import IMPAIRMENT_KEYS, LINK_AXES, Scenario, ScenarioError


@dataclass(frozen=True)
class PointLink:
    """The link settings of one point (scalars of ``link.*``)."""

    mtu: int | str
    fps: float
    deadline_ms: float | None
    window: int
    conceal: str


@dataclass(frozen=True)
class Point:
    """One point of the sweep: every setting that shapes its numbers, as scalars.

    :param index: position in the sweep.
    :param codec: codec name (registered, or ``module:Class``).
    :param codec_args: the codec's keyword arguments (knobs and options).
    :param channel: channel model name. :param params: the model's parameters.
    :param impairments: delay, jitter, reordering, duplication and link-rate parameters.
    :param link: MTU and timing. :param size: frame size ``(H, W)`` or None (the source's).
    :param segmenter: the segmenter spec (None: the shipped one).
    :param axes: dotted axis name -> this point's value, for every axis of the scenario.
    :param context: what else shapes the numbers (seed, data), as JSON.
    :param vehicles: vehicles sending at this point (0: no ``vehicles:`` section, one link).
    """

    index: int
    codec: str
    codec_args: dict[str, Any]
    channel: str
    params: dict[str, Any]
    impairments: dict[str, Any]
    link: PointLink
    size: tuple[int, int] | None
    segmenter: str | None
    axes: dict[str, Any] = field(default_factory=dict)
    context: str = ""
    vehicles: int = 0

    @property
    def key(self) -> str:
        """A stable text key of everything that decides the point's numbers.

        Built from the point's resolved settings (its axes included) and the run context; used
        to skip finished points on a rerun.
        """
        vehicles = {"vehicles": self.vehicles} if self.vehicles else {}
        return json.dumps({**vehicles, **self._link_fields(self.context)}, sort_keys=True)

    @property
    def key_id(self) -> int:
        """A 32-bit number that seeds the point's random streams: derived from :attr:`key` without
        the vehicles (their count and road), so a vehicle's link draws what the same link draws
        alone, and vehicle ``k`` of any count meets the same channel (common random numbers)."""
        context = json.loads(self.context) if self.context else {}
        context.pop("road", None)
        link = json.dumps(context, sort_keys=True) if self.context else ""
        return zlib.crc32(json.dumps(self._link_fields(link), sort_keys=True).encode())

    def _link_fields(self, context: str) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "codec_args": self.codec_args,
            "channel": self.channel,
            "params": self.params,
            "impairments": self.impairments,
            "link": self.link.__dict__,
            "size": list(self.size) if self.size is not None else None,
            "segmenter": self.segmenter,
            "context": context,
        }

    def label(self) -> str:
        """A short description for messages: ``jpeg target_bpp=0.1, loss=0.05``."""
        varying = ", ".join(f"{column_name(k)}={v}" for k, v in self.axes.items() if k != "codec")
        return f"{self.codec} {varying}".strip()


@dataclass(frozen=True)
class Axis:
    """One swept setting: its dotted name and values."""

    name: str
    values: tuple[Any, ...]


def column_name(axis: str) -> str:
    """The ``results.csv`` column of an axis: channel and codec keys by their bare name
    (``snr_db``, ``target_bpp``), the others by their dotted name (``link.mtu``, ``data.size``)."""
    head, _, tail = axis.partition(".")
    return tail if head in ("channel", "codec") and tail else axis


def as_values(value: Any, pair: bool = False) -> list[Any] | None:
    """The values of an axis if ``value`` is one (a list; for pairs, a list of lists), else None."""
    if pair:
        return list(value) if isinstance(value, list) and value and isinstance(value[0], list | tuple) else None
    return list(value) if isinstance(value, list) else None


def scenario_axes(scenario: Scenario) -> list[Axis]:
    """The axes shared by every codec entry: ``data.size``, ``segmenter``, ``link.*``, ``vehicles.count``."""
    out: list[Axis] = []
    size = as_values(scenario.data.size, pair=True)
    if size is not None:
        out.append(Axis("data.size", tuple(tuple(s) for s in size)))
    segmenter = as_values(scenario.segmenter)
    if segmenter is not None:
        out.append(Axis("segmenter", tuple(segmenter)))
    for name in LINK_AXES:
        values = as_values(getattr(scenario.link, name))
        if values is not None:
            out.append(Axis(f"link.{name}", tuple(values)))
    if scenario.vehicles is not None and isinstance(scenario.vehicles.count, list):
        out.append(Axis("vehicles.count", tuple(scenario.vehicles.count)))
    return out


def codec_axes(settings: dict[str, Any]) -> list[Axis]:
    """The axes of one codec entry: each of its keys (knobs, options) that holds a list."""
    return [Axis(f"codec.{k}", tuple(v)) for k, v in settings.items() if isinstance(v, list)]


def channel_axes(channel: dict[str, Any]) -> list[Axis]:
    """The axes of the channel: each parameter that holds a list (``model`` is never one)."""
    return [Axis(f"channel.{k}", tuple(v)) for k, v in channel.items() if k != "model" and isinstance(v, list)]


def combinations(axes: Sequence[Axis], groups: Sequence[Sequence[str]]) -> Iterator[dict[str, Any]]:
    """Every assignment of the axes, first axis outermost; each zip group varies as one axis."""
    grouped = {name: tuple(group) for group in groups for name in group}
    factors: list[list[dict[str, Any]]] = []
    seen: set[str] = set()
    by_name = {axis.name: axis for axis in axes}
    for axis in axes:
        if axis.name in seen:
            continue
        members = grouped.get(axis.name, (axis.name,))
        present = [by_name[m] for m in members if m in by_name]
        seen.update(m.name for m in present)
        length = len(present[0].values)
        factors.append([{m.name: m.values[i] for m in present} for i in range(length)])
    for combo in itertools.product(*factors):
        merged: dict[str, Any] = {}
        for part in combo:
            merged.update(part)
        yield merged


def check_groups(scenario: Scenario, every_axis: set[str], origin: str) -> None:
    """Each zip group names axes that exist and have equal lengths."""
    lengths: dict[str, int] = {}
    for axis in scenario_axes(scenario) + channel_axes(scenario.channel):
        lengths[axis.name] = len(axis.values)
    for spec in scenario.codecs:
        for axis in codec_axes(spec.settings()):
            lengths[axis.name] = len(axis.values)
    for group in scenario.zip_groups:
        unknown = [name for name in group if name not in every_axis]
        if unknown:
            known = ", ".join(sorted(every_axis)) or "none"
            raise ScenarioError(f"scenario {origin}: zip names {unknown[0]!r}, which is not an axis (axes: {known})")
        sizes = {lengths[name] for name in group}
        if len(sizes) > 1:
            described = ", ".join(f"{name} has {lengths[name]}" for name in group)
            raise ScenarioError(f"scenario {origin}: zip group {list(group)} needs lists of one length ({described})")


def all_axis_names(scenario: Scenario) -> set[str]:
    """Dotted names of every axis of the scenario."""
    names = {a.name for a in scenario_axes(scenario) + channel_axes(scenario.channel)}
    for spec in scenario.codecs:
        names.update(a.name for a in codec_axes(spec.settings()))
    return names


def points(scenario: Scenario, origin: str = "scenario") -> list[Point]:
    """The product of every axis (see the module docstring for the order)."""
    check_groups(scenario, all_axis_names(scenario), origin)
    context = run_context(scenario)
    shared = scenario_axes(scenario)
    channel = channel_axes(scenario.channel)
    codec_names = len({spec.name for spec in scenario.codecs}) > 1
    out: list[Point] = []
    for spec in scenario.codecs:
        settings = spec.settings()
        axes = [*shared, *codec_axes(settings), *channel]
        for assignment in combinations(axes, scenario.zip_groups):
            if len(scenario.codecs) > 1:  # the entries' own scalars tell their points apart
                assignment = {f"codec.{k}": v for k, v in settings.items() if as_values(v) is None} | assignment
            out.append(make_point(len(out), scenario, spec.name, settings, assignment, context, codec_names))
    return out


def make_point(
    index: int,
    scenario: Scenario,
    codec: str,
    settings: dict[str, Any],
    assignment: dict[str, Any],
    context: str,
    codec_axis: bool,
) -> Point:
    """One point from an assignment of the axes."""
    codec_args = {k: assignment.get(f"codec.{k}", v) for k, v in settings.items()}
    channel = {k: assignment.get(f"channel.{k}", v) for k, v in scenario.channel.items() if k != "model"}
    link_values = {name: assignment.get(f"link.{name}", getattr(scenario.link, name)) for name in LINK_AXES}
    size = assignment.get("data.size", scenario.data.size)
    vehicles = 0 if scenario.vehicles is None else int(assignment.get("vehicles.count", scenario.vehicles.counts[0]))
    axes = ({"codec": codec} if codec_axis else {}) | assignment
    return Point(
        index=index,
        codec=codec,
        codec_args=codec_args,
        channel=str(scenario.channel["model"]),
        params={k: v for k, v in channel.items() if k not in IMPAIRMENT_KEYS},
        impairments={k: v for k, v in channel.items() if k in IMPAIRMENT_KEYS},
        link=PointLink(**link_values),
        size=(int(size[0]), int(size[1])) if size is not None else None,
        segmenter=assignment.get("segmenter", scenario.segmenter),
        axes=axes,
        context=context,
        vehicles=vehicles,
    )


def run_context(scenario: Scenario) -> str:
    """What besides the point's own settings decides its numbers: the seed, the data and (with
    vehicles) where they drive."""
    data = scenario.data.model_dump(mode="json", exclude={"size"})
    road = {} if scenario.vehicles is None else {"road": scenario.vehicles.geometry()}
    return json.dumps({"seed": scenario.seed, "data": data, **road}, sort_keys=True)


def varying_axes(sweep: Sequence[Point]) -> list[str]:
    """Dotted names of the axes whose value differs between points, in sweep order."""
    names: list[str] = []
    for point in sweep:
        names.extend(name for name in point.axes if name not in names)
    return [name for name in names if len({json.dumps(p.axes.get(name)) for p in sweep}) > 1]
