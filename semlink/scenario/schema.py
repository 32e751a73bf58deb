"""Scenarios: one YAML file, validated with pydantic (expanded into points by :mod:`semlink.scenario.sweep`).

Every list where a scalar is allowed is a sweep axis. ``--set key.sub=value`` overrides any field
before validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from semlink.catalog import DEFAULT_METRICS, KNOBS
from semlink.errors import ScenarioError, did_you_mean
from semlink.registry import add_plugin_folder
from semlink.scenario.vehicles import VehiclesSpec
from semlink.scenario.yamlfile import apply_overrides, read_raw

IMPAIRMENT_KEYS = ("delay_ms", "jitter_ms", "reorder", "duplicate", "rate_bps")


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


RATE_KNOBS = ("target_bpp", *dict.fromkeys(KNOBS.values()))
"""Settings that set a codec's rate: ``target_bpp`` and the built-in codecs' own knobs
(:data:`semlink.catalog.KNOBS`)."""


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
        own = KNOBS.get(self.name)
        rates = [k for k in ("target_bpp", *([own] if own else [])) if k in self.settings()]
        if len(rates) > 1:
            raise ValueError(f"codec {self.name}: give one of {', '.join(rates)}, not both (each sets the rate)")
        for key, value in self.settings().items():
            if isinstance(value, list) and not value:
                raise ValueError(f"codec {self.name}: {key} is an empty list; give at least one value")
        return self

    def settings(self) -> dict[str, Any]:
        """The codec's keyword arguments (lists are axes), the entry's own keys after ``options``."""
        return {**self.options, **(self.model_extra or {})}


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

    @field_validator("*")
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


LINK_AXES = tuple(LinkSpec.model_fields)
"""The ``link.*`` fields, each of which may be a list (an axis): a new one is a field of
:class:`LinkSpec` and of :class:`semlink.scenario.sweep.PointLink`."""


class NetworkSpec(Strict):
    """Socket addresses, high-water marks and how long a node waits on its peers.

    Addresses left unset are picked per run (private ``ipc://`` endpoints, see
    :mod:`semlink.nodes.endpoints`); set them for nodes on several hosts or in compose.
    ``peer_timeout_s`` bounds the wait for a peer to connect; a connected peer is watched
    through its connections (a dead one is reported within seconds, see :mod:`semlink.nodes.liveness`)
    and one that is alive but sends or takes nothing fails the run after ``stall_timeout_s``.
    ``security: curve`` with ``keys: DIR`` (``semlink keys generate DIR``) authenticates and
    encrypts every link (:mod:`semlink.nodes.security`).
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
    vehicles: VehiclesSpec | None = None
    """Many vehicles (:mod:`semlink.scenario.vehicles`); None: one camera on one link."""
    zip_groups: list[list[str]] = Field(default_factory=list, alias="zip")
    metrics: list[str | dict[str, Any]] = Field(default_factory=lambda: list[str | dict[str, Any]](DEFAULT_METRICS))
    transport: Literal["zmq", "inproc"] = "zmq"
    threads: int | None = Field(None, ge=1, le=4096)
    """CPU threads the run may use in all, shared among the processes that run at once
    (:mod:`semlink.nodes.threads`); None: the cores this machine lets it use."""
    compute_threads: int = Field(1, ge=1, le=256)
    """Threads each network (codec, segmenter, radio) runs on, in every process, whatever the
    budget and the executor: a network's output can change in its last bits with its thread count
    (a few pixels flip), so a fixed count keeps the rows the same under every executor and worker
    count. Raise it for speed on a many-core machine with few processes; it is then part of what
    decides the rows, like ``device``."""
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
        raw = read_raw(Path(path))
        add_plugin_folder(Path(path).parent)  # its module:Attribute names may live beside it (docs/plugins.md)
        return validate(apply_overrides(raw, overrides), str(path))


def validate(raw: dict[str, Any], origin: str) -> Scenario:
    """Validate a raw scenario dict (its fields and their types; the components it names are
    built, and so checked, by :func:`semlink.study.components.check_points`)."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {message(e)}" for e in error.errors())
        raise ScenarioError(f"scenario {origin}: {problems}") from None
    return scenario


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
