"""Scenarios: one YAML file, validated with pydantic, expanded into sweep points.

Every list in ``codecs[*]`` knobs and in ``channel`` is a sweep axis; the run is the product of
the axes. ``--set key.sub=value`` overrides any field before validation.
"""

from __future__ import annotations

import itertools
import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

KNOBS = ("rate", "target_bpp", "quality")
IMPAIRMENT_KEYS = ("delay_ms", "jitter_ms", "reorder", "duplicate", "rate_bps")


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats, so ``6e6`` and ``1e-5`` are numbers, not strings."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """Parse YAML text with :class:`YamlLoader`."""
    return yaml.load(text, Loader=YamlLoader)


class ScenarioError(ValueError):
    """A scenario that cannot be read or is invalid; the message names the file and field."""


class Strict(BaseModel):
    """Base of the schema: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class DataSpec(Strict):
    """Which frames: ``source`` (synthetic, camvid, cityscapes, folder), ``split``, ``frames``, ``size``.

    At most 1000 frames per point: the per-frame records ride in the point's ``point-end`` message,
    which the wire bounds at 64 KiB. ``sequence`` > 1 makes synthetic frames consecutive moments of
    drives of that many frames.
    """

    source: str = "synthetic"
    split: str = "val"
    frames: int = Field(30, ge=1, le=1000)
    sequence: int = Field(1, ge=1)
    size: tuple[int, int] | None = None
    root: str | None = None


class CodecSpec(Strict):
    """A codec and its rate knob: exactly one of ``rate``, ``target_bpp``, ``quality`` (scalar or list),
    and its other settings in ``options``."""

    name: str
    rate: float | list[float] | None = None
    target_bpp: float | list[float] | None = None
    quality: float | list[float] | None = None
    options: dict[str, float | int | str | bool] = Field(default_factory=dict)
    """Further settings of the codec, passed as keyword arguments (e.g. ``map_scale: 2``)."""

    def knob(self) -> tuple[str, list[float]]:
        """The knob's name and its values (``rate = [1.0]`` if none is given)."""
        given = [(k, getattr(self, k)) for k in KNOBS if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"codec {self.name}: give one of {', '.join(KNOBS)}, not {len(given)}")
        if not given:
            return "rate", [1.0]
        name, value = given[0]
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError(f"codec {self.name}: {name} is an empty list")
        return name, [float(v) for v in values]


class LinkSpec(Strict):
    """Packets and timing: MTU (bytes or preset), frame rate, deadline, reassembly window, concealment."""

    mtu: int | str = 1200

    @field_validator("mtu")
    @classmethod
    def _known_mtu(cls, value: int | str) -> int | str:
        from semlink.transmitter.packetizer import resolve_mtu

        resolve_mtu(value)
        return value

    fps: float = Field(10.0, gt=0)
    deadline_ms: float | None = Field(100.0, gt=0)
    window: int = Field(4, ge=1, le=64)
    conceal: Literal["repeat", "grey"] = "repeat"


class NetworkSpec(Strict):
    """Socket addresses (loopback by default), high-water marks and the peer timeout."""

    channel_bind: str = "tcp://127.0.0.1:5601"
    channel_connect: str = "tcp://127.0.0.1:5601"
    receiver_bind: str = "tcp://127.0.0.1:5602"
    receiver_connect: str = "tcp://127.0.0.1:5602"
    hwm: int = Field(1000, ge=1)
    peer_timeout_s: float = Field(60.0, gt=0)


class Scenario(Strict):
    """A whole scenario file."""

    name: str = "scenario"
    seed: int = Field(0, ge=0)
    data: DataSpec = DataSpec()
    codecs: list[CodecSpec] = Field(min_length=1)
    channel: dict[str, Any] = {"model": "ideal"}
    link: LinkSpec = LinkSpec()
    transport: Literal["zmq", "inproc"] = "zmq"
    network: NetworkSpec = NetworkSpec()
    segmenter: str | None = None
    device: str = "auto"
    out: str | None = None

    @field_validator("channel")
    @classmethod
    def _has_model(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("model"), str):
            raise ValueError("channel needs a 'model' name, e.g. {model: bernoulli, loss: [0.0, 0.1]}")
        empty = [key for key, axis in value.items() if isinstance(axis, list) and not axis]
        if empty:
            raise ValueError(f"channel.{empty[0]} is an empty list; give at least one value")
        return value


@dataclass(frozen=True)
class Point:
    """One point of the sweep.

    :param index: position in the sweep. :param codec: codec name.
    :param knob: ``rate``, ``target_bpp`` or ``quality``. :param value: its value.
    :param channel: channel model name. :param params: the model's parameters.
    :param impairments: delay/jitter/reorder/duplicate/rate parameters.
    """

    index: int
    codec: str
    knob: str
    value: float
    channel: str
    params: dict[str, Any]
    impairments: dict[str, Any]
    context: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """A stable text key of the point and of what else shapes its numbers (data, seed, link, segmenter).

        Used to skip finished points on a rerun and to seed the point's random streams.
        """
        return json.dumps(
            [self.codec, self.knob, self.value, self.channel, self.params, self.impairments, self.context]
            + ([self.options] if self.options else []),
            sort_keys=True,
        )

    @property
    def key_id(self) -> int:
        """A 32-bit number derived from :attr:`key`."""
        return zlib.crc32(self.key.encode())


def points(scenario: Scenario) -> list[Point]:
    """The product of every sweep axis, codecs outermost."""
    channel = dict(scenario.channel)
    model = channel.pop("model")
    axes = {k: (v if isinstance(v, list) else [v]) for k, v in channel.items()}
    grid = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    context = run_context(scenario)
    out: list[Point] = []
    for spec in scenario.codecs:
        knob, values = spec.knob()
        for value, params in itertools.product(values, grid):
            impairments = {k: v for k, v in params.items() if k in IMPAIRMENT_KEYS}
            model_params = {k: v for k, v in params.items() if k not in IMPAIRMENT_KEYS}
            out.append(
                Point(len(out), spec.name, knob, value, model, model_params, impairments, context, dict(spec.options))
            )
    return out


def run_context(scenario: Scenario) -> str:
    """What besides codec and channel decides a point's numbers: seed, data, link and segmenter."""
    shaping = {
        "seed": scenario.seed,
        "data": scenario.data.model_dump(mode="json"),
        "link": scenario.link.model_dump(mode="json"),
        "segmenter": scenario.segmenter,
    }
    return json.dumps(shaping, sort_keys=True)


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML; list items by number)."""
    for override in overrides:
        path, sep, text = override.partition("=")
        if not sep or not path:
            raise ScenarioError(f"--set {override!r} must look like key.sub=value")
        try:
            value = parse_yaml(text) if text else None
        except yaml.YAMLError:
            raise ScenarioError(f"--set {override!r}: the value is not valid YAML") from None
        set_path(raw, path.split("."), value, override)
    return raw


def set_path(node: Any, keys: list[str], value: Any, override: str) -> None:
    """Set ``node[k0][k1]... = value``, creating dicts on the way."""
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(f"--set {override!r}: {key!r} is not an index of a {len(node)}-item list")
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise ScenarioError(f"--set {override!r}: {'.'.join(keys[:depth])} is not a mapping")


def load_scenario(path: Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override and validate a scenario; every problem becomes one :class:`ScenarioError` line."""
    try:
        raw = parse_yaml(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"scenario {path} does not exist; see scenarios/ for examples") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"scenario {path} cannot be read: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"scenario {path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"scenario {path}: the top level must be a mapping of fields")
    return validate(apply_overrides(raw, overrides), str(path))


def validate(raw: dict[str, Any], origin: str) -> Scenario:
    """Validate a raw scenario dict; check that its codecs and channel parameters exist."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors())
        raise ScenarioError(f"scenario {origin}: {problems}") from None
    try:
        for spec in scenario.codecs:
            spec.knob()
    except ValueError as error:
        raise ScenarioError(f"scenario {origin}: codecs: {error}") from None
    return scenario


def dump_scenario(scenario: Scenario, path: Path) -> None:
    """Write the resolved scenario (after overrides) as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False))
