"""Trials (a point's channel realisations), their numbering on the wire, seeds and run ids."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

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
