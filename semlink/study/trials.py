"""Trials (a point's channel realisations), their numbering on the wire, seeds and run ids."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from semlink.scenario.schema import Scenario, ScenarioError
from semlink.scenario.sweep import Point
from semlink.wire import RUN_IDS

# Named random streams drawn from the run's one seed (numpy SeedSequence entropy words).
STREAM_CHANNEL = 1


STREAM_BOOTSTRAP = 2


STREAM_ROAD = 3


VEHICLE_TAG = 0x76656869
"""Marks a vehicle's number in a stream's entropy (vehicle 0 keeps the single link's streams)."""


@dataclass(frozen=True)
class Trial:
    """One channel realisation of a point for one vehicle: what travels through the nodes as one unit.

    :param point: the sweep point. :param repeat: which realisation (0-based).
    :param repeats: realisations per point. :param vehicle: which vehicle (0 without vehicles).
    :param stride: vehicle numbers per realisation on the wire (the sweep's largest count; 1
        without vehicles, so a single link's numbering is as it always was).
    """

    point: Point
    repeat: int
    repeats: int
    vehicle: int = 0
    stride: int = 1

    @property
    def index(self) -> int:
        """The unit's number on the wire: ``(point * repeats + repeat) * stride + vehicle``
        (:func:`trial_of` inverts it)."""
        return (self.point.index * self.repeats + self.repeat) * self.stride + self.vehicle

    @property
    def key(self) -> str:
        """The point's key, with the realisation when there are several and the vehicle when there are vehicles."""
        key = self.point.key if self.repeats == 1 else f"{self.point.key}#{self.repeat}"
        return f"{key}@{self.vehicle}" if self.point.vehicles else key

    @property
    def group(self) -> int:
        """The number of the realisation the vehicle belongs to (its vehicles share one cell)."""
        return self.point.index * self.repeats + self.repeat


def trial_of(index: int, repeats: int, stride: int = 1) -> tuple[int, int, int]:
    """The sweep point, realisation and vehicle of a trial's number on the wire (see :attr:`Trial.index`)."""
    group, vehicle = divmod(index, stride)
    point, repeat = divmod(group, repeats)
    return point, repeat, vehicle


def vehicle_stride(sweep: list[Point]) -> int:
    """Vehicle numbers per realisation: the largest vehicle count of the sweep (1 without vehicles)."""
    return max([1, *(p.vehicles for p in sweep)])


def trials(scenario: Scenario, sweep: list[Point], stride: int | None = None) -> list[Trial]:
    """Every realisation of every point, and every vehicle of each, point by point.

    :param stride: vehicle numbers per realisation (default: :func:`vehicle_stride` of ``sweep``;
        give the whole sweep's when ``sweep`` is a selection).
    """
    count = scenario.repeat_count
    step = vehicle_stride(sweep) if stride is None else stride
    return [Trial(p, r, count, v, step) for p in sweep for r in range(count) for v in range(max(p.vehicles, 1))]


def share_count(scenario: Scenario) -> int:
    """Transmitter processes the scenario's vehicles are spread over (1 without ``vehicles.per_process``)."""
    return 1 if scenario.vehicles is None else scenario.vehicles.shares()


def share_of(scenario: Scenario, trial: Trial) -> int:
    """The transmitter share that sends ``trial``: its vehicle over ``per_process`` (0 when the
    vehicles are not spread)."""
    spec = scenario.vehicles
    return 0 if spec is None or spec.per_process is None else trial.vehicle // spec.per_process


def in_share(scenario: Scenario, trial: Trial, share: int) -> bool:
    """Whether the transmitter of ``share`` sends ``trial`` (every trial when the vehicles are not spread)."""
    return share_of(scenario, trial) == share


def channel_seed(scenario: Scenario, trial: Trial) -> tuple[int, ...]:
    """Entropy of a realisation's channel stream: ``(seed, STREAM_CHANNEL, point key id[, repeat])``.

    With ``seeds: [...]`` the realisation's own seed takes the run seed's place; with ``repeats``
    the realisation number is appended (none for a single realisation, as before repeats existed);
    a vehicle other than the first appends ``(VEHICLE_TAG, vehicle)``.
    """
    key_id = trial.point.key_id
    if scenario.seeds is not None:
        base: tuple[int, ...] = (scenario.seeds[trial.repeat], STREAM_CHANNEL, key_id)
    elif trial.repeats == 1:
        base = (scenario.seed, STREAM_CHANNEL, key_id)
    else:
        base = (scenario.seed, STREAM_CHANNEL, key_id, trial.repeat)
    return base + ((VEHICLE_TAG, trial.vehicle) if trial.vehicle else ())


def road_seed(scenario: Scenario, trial: Trial) -> tuple[int, ...]:
    """Entropy of a realisation's road (starts, speeds, shadowing, fading, capture phases): the same
    for every point with the same vehicle count, so codecs and schedulers meet the same road."""
    seed = scenario.seeds[trial.repeat] if scenario.seeds is not None else scenario.seed
    return (seed, STREAM_ROAD, trial.point.vehicles, trial.repeat)


PARENT_ENV = "SEMLINK_PARENT_PID"


"""Set by ``semlink run`` in its children: their parent's pid (they die with it; it checked the scenario)."""


RUN_ID_ENV = "SEMLINK_RUN_ID"


"""Where a run's nodes find its id: ``semlink run`` draws one from the operating system's
randomness and hands it to its children here; nodes started by hand or by compose share one."""


RUN_ID_FILE_ENV = "SEMLINK_RUN_ID_FILE"


"""Or a file holding the id (a compose or Kubernetes secret), for nodes started apart."""


def given_run_id() -> int | None:
    """The run id the environment gives: ``$SEMLINK_RUN_ID``, else the one in the file
    ``$SEMLINK_RUN_ID_FILE`` names; None when neither is set.

    :raises ScenarioError: if the id is not an int in :data:`semlink.wire.RUN_IDS`, or the file
        cannot be read.
    """
    low, high = RUN_IDS
    given, source = os.environ.get(RUN_ID_ENV), RUN_ID_ENV
    if given is None and (path := os.environ.get(RUN_ID_FILE_ENV)):
        try:
            given, source = Path(path).read_text(errors="replace").strip(), f"the file {path} ({RUN_ID_FILE_ENV})"
        except OSError as error:
            raise ScenarioError(f"{RUN_ID_FILE_ENV}={path}: {error.strerror}; name a readable file") from None
    if given is None:
        return None
    if not given.isdigit() or not low <= int(given) <= high:
        shown = f"{RUN_ID_ENV}={given[:30]!r}" if source == RUN_ID_ENV else f"the run id in {source}"
        raise ScenarioError(f"{shown} must be an integer in [{low}, {high}]; unset it or fix it")
    return int(given)


def run_id(scenario: Scenario) -> int:
    """The run's id on the wire: the one the environment gives (:func:`given_run_id`: the parent's,
    or the user's for nodes started by hand or by compose), else one derived from the scenario's
    name and seed.

    Stages drop every message of another run id, so traffic of other runs never changes a row.
    The derived id is guessable: nodes only fall back to it on loopback or private endpoints, or
    under CURVE (:func:`semlink.nodes.loops.node_run_id` refuses it elsewhere).

    :raises ScenarioError: as :func:`given_run_id`.
    """
    given = given_run_id()
    if given is not None:
        return given
    return RUN_IDS[0] + zlib.crc32(f"{scenario.name}:{scenario.seed}".encode())


def frame_interval_us(fps: float) -> int:
    """Simulated microseconds between frames."""
    return round(1e6 / fps)
