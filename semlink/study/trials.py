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
        """The unit's number on the wire: ``point * repeats + repeat`` (:func:`trial_of` inverts it)."""
        return self.point.index * self.repeats + self.repeat

    @property
    def key(self) -> str:
        """The point's key, with the realisation when there are several."""
        return self.point.key if self.repeats == 1 else f"{self.point.key}#{self.repeat}"


def trial_of(index: int, repeats: int) -> tuple[int, int]:
    """The sweep point and the realisation of a trial's number on the wire (see :attr:`Trial.index`)."""
    point, repeat = divmod(index, repeats)
    return point, repeat


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
