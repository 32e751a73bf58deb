"""Scenarios: one YAML file, validated with pydantic (expanded into points by :mod:`semlink.sim.sweep`).

Every list where a scalar is allowed is a sweep axis. ``--set key.sub=value`` overrides any field
before validation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from semlink.errors import did_you_mean

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


MAX_SCENARIO_BYTES = 1_000_000
"""Largest scenario file read (the shipped ones are under 3 kB)."""
MAX_NESTING = 32
"""Deepest nesting of mappings and lists in a scenario (the schema needs 5)."""
MAX_NODES = 100_000
"""Most values a scenario may hold once its YAML aliases are expanded."""


class ScenarioError(ValueError):
    """A scenario that cannot be read or is invalid; the message names the file and field."""


def parse_yaml(text: str) -> Any:
    """Parse YAML text with :class:`YamlLoader`, refusing nesting deeper than :data:`MAX_NESTING`
    (checked on the event stream, before anything recursive runs) and more than :data:`MAX_NODES`
    values once aliases are expanded (``&a`` / ``*a`` bombs).

    :raises ScenarioError: for too deep or too large a document. :raises yaml.YAMLError: for bad YAML.
    """
    depth = 0
    for event in yaml.parse(text, Loader=YamlLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                raise ScenarioError(f"line {line}: nested more than {MAX_NESTING} deep; a scenario needs a few levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    value = yaml.load(text, Loader=YamlLoader)
    if expanded_size(value, {}) > MAX_NODES:
        raise ScenarioError(f"more than {MAX_NODES} values once its aliases are expanded; write it out plainly")
    return value


def expanded_size(value: Any, seen: dict[int, int]) -> int:
    """Values in ``value`` counted as if every alias were copied out (shared nodes counted once each
    time they are used, computed once each)."""
    if not isinstance(value, dict | list):
        return 1
    if id(value) not in seen:
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        seen[id(value)] = 1 + sum(expanded_size(child, seen) for child in children)
    return seen[id(value)]


class Strict(BaseModel):
    """Base of the schema: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class DataSpec(Strict):
    """Which frames: ``source`` (synthetic, camvid, cityscapes, folder), ``split``, ``frames``, ``size``.

    At most 1000 frames per point: the per-frame records ride in the point's ``point-end`` message,
    which the wire bounds at 64 KiB. ``sequence`` > 1 makes synthetic frames consecutive moments of
    drives of that many frames. ``size`` may be a list of sizes (an axis).
    """

    source: str = "synthetic"
    split: str = "val"
    frames: int = Field(30, ge=1, le=1000)
    sequence: int = Field(1, ge=1)
    size: tuple[int, int] | list[tuple[int, int]] | None = None
    root: str | None = None

    @field_validator("size")
    @classmethod
    def _sizes(cls, value: tuple[int, int] | list[tuple[int, int]] | None) -> object:
        sizes = value if isinstance(value, list) else [] if value is None else [value]
        if isinstance(value, list) and not value:
            raise ValueError("data.size is an empty list; give [H, W] or a list of them")
        for height, width in sizes:
            if height < 16 or width < 16:
                raise ValueError(f"data.size {[height, width]} is too small (at least 16x16)")
        return value


RATE_REPLACEMENTS = {
    "sqgan": "tokens (the fraction of tokens sent, 0-1) or target_bpp",
    "gan": "tokens (the fraction of tokens sent, 0-1) or target_bpp",
    "ssm": "map_scale (1, 2 or 4)",
    "spic": "quality (of the low-res image) or target_bpp",
    "resize": "factor (the downsampling factor)",
}


RATE_KNOBS = ("target_bpp", "quality", "tokens", "factor")
"""Knobs that each set a codec's rate: an entry gives at most one."""


class CodecSpec(BaseModel):
    """A codec entry: ``name`` and the codec's keyword arguments (knobs such as ``target_bpp``,
    ``quality``, ``tokens``, ``map_scale``, and its options). A list is a sweep axis.

    ``options: {...}`` is still read: its keys are merged with the entry's own.
    """

    model_config = ConfigDict(extra="allow")

    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_rate(self) -> CodecSpec:
        if "rate" in self.settings():
            instead = RATE_REPLACEMENTS.get(self.name, "target_bpp or quality")
            raise ValueError(f"codec {self.name}: 'rate' is gone; write {instead} instead")
        rates = [k for k in RATE_KNOBS if k in self.settings()]
        if len(rates) > 1:
            raise ValueError(f"codec {self.name}: give one of {', '.join(rates)}, not both (each sets the rate)")
        for key, value in self.settings().items():
            if isinstance(value, list) and not value:
                raise ValueError(f"codec {self.name}: {key} is an empty list; give at least one value")
        return self

    def settings(self) -> dict[str, Any]:
        """The codec's keyword arguments (lists are axes), the entry's own keys after ``options``."""
        return {**self.options, **(self.model_extra or {})}


LINK_AXES = ("mtu", "fps", "deadline_ms", "window", "conceal")
"""The ``link.*`` fields, each of which may be a list (an axis)."""


def _each(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class LinkSpec(Strict):
    """Packets and timing: MTU (bytes or preset), frame rate, deadline, reassembly window,
    concealment. Each field may be a list (an axis)."""

    mtu: int | str | list[int | str] = 1200
    fps: float | list[float] = 10.0
    deadline_ms: float | list[float | None] | None = 100.0
    window: int | list[int] = 4
    conceal: Literal["repeat", "grey"] | list[Literal["repeat", "grey"]] = "repeat"

    @field_validator("mtu", "fps", "deadline_ms", "window", "conceal")
    @classmethod
    def _values(cls, value: Any, info: ValidationInfo) -> Any:
        from semlink.transmitter.packetizer import resolve_mtu

        name = info.field_name
        if isinstance(value, list) and not value:
            raise ValueError(f"link.{name} is an empty list; give at least one value")
        for item in _each(value):
            if name == "mtu":
                resolve_mtu(item)
            elif name == "fps" and item <= 0:
                raise ValueError("link.fps must be greater than 0")
            elif name == "deadline_ms" and item is not None and item <= 0:
                raise ValueError("link.deadline_ms must be greater than 0 (or null: no deadline)")
            elif name == "window" and not 1 <= item <= 64:
                raise ValueError("link.window must be between 1 and 64")
        return value


class NetworkSpec(Strict):
    """Socket addresses, high-water marks and how long a node waits on its peers.

    Addresses left unset are picked per run (private ``ipc://`` endpoints, see
    :mod:`semlink.sim.endpoints`); set them for nodes on several hosts or in compose.
    ``peer_timeout_s`` bounds the wait for a peer to connect; a connected peer is watched
    through its connections (a dead one is reported within seconds, see :mod:`semlink.sim.liveness`)
    and one that is alive but sends or takes nothing fails the run after ``stall_timeout_s``.
    ``security: curve`` with ``keys: DIR`` (``semlink keys generate DIR``) authenticates and
    encrypts every link (:mod:`semlink.sim.security`).
    """

    channel_bind: str | None = None
    channel_connect: str | None = None
    receiver_bind: str | None = None
    receiver_connect: str | None = None
    hwm: int = Field(1000, ge=1)
    peer_timeout_s: float = Field(60.0, gt=0)
    stall_timeout_s: float = Field(600.0, gt=0)
    security: Literal["none", "curve"] = "none"
    keys: str | None = None

    @field_validator("keys")
    @classmethod
    def _absolute_keys(cls, value: str | None) -> str | None:
        """The key folder as an absolute path (relative ones are read from the working folder),
        so the nodes find it from the scenario copy ``semlink run`` hands them."""
        return None if value is None else str(Path(value).expanduser().absolute())


class TrackingSpec(Strict):
    """Where a run is logged besides its folder (the optional extra ``semlink[tracking]``).

    ``mlflow``: an MLflow tracking URI (``http://host:5000``, ``sqlite:///path/mlflow.db``), a
    folder (an SQLite store inside it), or ``local`` (``OUT/mlflow.db``, artefacts in
    ``OUT/mlartifacts``). ``experiment``: the MLflow experiment (default: the scenario's name).
    """

    mlflow: str | None = None
    experiment: str | None = None


DEFAULT_METRICS = ("miou", "pixel_accuracy", "psnr", "ms_ssim", "latency", "delivery")
"""The metrics of a scenario that names none (today's columns)."""


class Scenario(Strict):
    """A whole scenario file (see ``scenarios/README.md`` for every field)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = "scenario"
    seed: int = Field(0, ge=0)
    repeats: int = Field(1, ge=1, le=1000)
    seeds: list[int] | None = None
    data: DataSpec = DataSpec()
    codecs: list[CodecSpec] = Field(min_length=1)
    channel: dict[str, Any] = {"model": "ideal"}
    link: LinkSpec = LinkSpec()
    zip_groups: list[list[str]] = Field(default_factory=list, alias="zip")
    metrics: list[str | dict[str, Any]] = Field(default_factory=lambda: list[str | dict[str, Any]](DEFAULT_METRICS))
    transport: Literal["zmq", "inproc"] = "zmq"
    threads: int | None = Field(None, ge=1, le=4096)
    """CPU threads the run may use in all, shared among the processes that run at once
    (:mod:`semlink.sim.threads`); None: the cores this machine lets it use."""
    network: NetworkSpec = NetworkSpec()
    segmenter: str | list[str] | None = None
    device: str = "auto"
    out: str | None = None
    tracking: TrackingSpec = TrackingSpec()
    cache: bool | str = True
    """The work cache (:mod:`semlink.workcache`): True keeps it in ``OUT/cache``, a path shares one
    folder between runs, False computes everything again."""
    batch: int | None = Field(None, ge=1, le=1024)
    """Frames coded together: the transmitter segments and codes them in batches
    (``Codec.compress_batch``; the bitstreams do not depend on it), the receiver decodes them in
    batches of exactly this size (``Codec.decompress_batch``, the last padded; a batched pass may
    round a grey level differently, so the size is part of the decodes' cache keys); None: 8 where
    the networks run on CUDA, 1 on the CPU (where batches run slower)."""
    cache_max_gb: float = Field(2.0, gt=0)
    """The cache folder's bound; the least recently used entries go beyond it."""

    @field_validator("channel")
    @classmethod
    def _has_model(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("model"), str):
            raise ValueError("channel needs a 'model' name, e.g. {model: bernoulli, loss: [0.0, 0.1]}")
        empty = [key for key, axis in value.items() if isinstance(axis, list) and not axis]
        if empty:
            raise ValueError(f"channel.{empty[0]} is an empty list; give at least one value")
        return value

    @model_validator(mode="after")
    def _repeats(self) -> Scenario:
        if self.seeds is not None:
            if not self.seeds:
                raise ValueError("seeds is an empty list; give at least one seed, or use repeats: N")
            if self.repeats not in (1, len(self.seeds)):
                raise ValueError(f"give repeats: N or seeds: [...], not both ({self.repeats} and {len(self.seeds)})")
            if len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
                raise ValueError("seeds must be distinct numbers >= 0")
        if isinstance(self.segmenter, list) and not self.segmenter:
            raise ValueError("segmenter is an empty list; give at least one")
        for group in self.zip_groups:
            if len(group) < 2:
                raise ValueError(f"zip group {group} needs at least two axis names")
        return self

    @property
    def repeat_count(self) -> int:
        """How many channel realisations each point runs."""
        return len(self.seeds) if self.seeds is not None else self.repeats

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
        """Read, override and validate a scenario file (errors as one :class:`ScenarioError` line)."""
        return load_scenario(Path(path), overrides)


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML; list items by number)."""
    for override in overrides:
        path, sep, text = override.partition("=")
        if not sep or not path:
            key, colon, rest = (part.strip() for part in override.partition(":"))
            hint = f" (did you mean {key}={rest}?)" if colon and key and rest else ""
            raise ScenarioError(f"--set {override!r} must look like key.sub=value{hint}")
        try:
            value = parse_yaml(text) if text else None
        except yaml.YAMLError:
            raise ScenarioError(f"--set {override!r}: the value is not valid YAML") from None
        except ScenarioError as error:
            raise ScenarioError(f"--set {override[:60]!r}: {error}") from None
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
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(
                f"scenario {path} is {path.stat().st_size:,} bytes, above the {MAX_SCENARIO_BYTES:,} a scenario may be"
            )
        raw = parse_yaml(path.read_text())
    except ScenarioError as error:
        raise ScenarioError(str(error) if str(error).startswith("scenario ") else f"scenario {path}: {error}") from None
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


def message(error: Any) -> str:
    """A pydantic error's message without its ``Value error, `` prefix (our validators' own words);
    for an unknown field, the closest known one and the list of them."""
    text = str(error["msg"])
    if error.get("type") == "extra_forbidden":
        known = field_names(tuple(error["loc"][:-1]))
        if known:
            word = str(error["loc"][-1])
            return f"unknown field{did_you_mean(word, known)}; the fields here: {', '.join(known)}"
    return text.removeprefix("Value error, ")


def field_names(location: tuple[Any, ...]) -> list[str]:
    """The field names (YAML spelling) of the schema model at ``location`` in a scenario, or []."""
    model: type[BaseModel] = Scenario
    for key in location:
        if isinstance(key, int):
            continue
        field = model.model_fields.get(str(key)) or next(
            (f for f in model.model_fields.values() if f.alias == key), None
        )
        inner = field.annotation if field is not None else None
        candidates = [inner, *getattr(inner, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return [f.alias or name for name, f in model.model_fields.items()]


def validate(raw: dict[str, Any], origin: str) -> Scenario:
    """Validate a raw scenario dict (its fields and their types; the components it names are
    built, and so checked, by :func:`semlink.sim.plans.check_points`)."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {message(e)}" for e in error.errors())
        raise ScenarioError(f"scenario {origin}: {problems}") from None
    return scenario


def dump_scenario(scenario: Scenario, path: Path) -> None:
    """Write the resolved scenario (after overrides) as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False))
