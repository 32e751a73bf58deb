"""NR sidelink mode 2: no base station; each vehicle picks its own resources, and two that pick
the same collide.

A simplified sensing-based semi-persistent scheduling (TS 38.214 §8.1.4, TR 37.885): the carrier
is cut into ``subchannels`` of equal blocks. A vehicle with data holds a reservation of one
subchannel, kept for a reselection counter drawn uniformly in ``[5, 15]`` slots in which it
transmits (then it reselects, or with probability ``keep_probability`` keeps it). Selecting, it
excludes the subchannels it sensed reserved by others before this slot (every vehicle hears
every other here: one cell, no hidden terminals, no RSRP threshold) and picks uniformly among the
rest; when all are taken it picks among all. Vehicles selecting in the same slot cannot see each
other's picks, so they may still pick the same subchannel. Two vehicles transmitting on one subchannel in a slot
collide: both transmissions fail. With ``sensing: false`` every pick is uniform over all
subchannels, so with ``N`` vehicles selecting at once a vehicle collides with probability
``1 - (1 - 1/R)^(N - 1)`` (``R`` subchannels).
"""

from __future__ import annotations

import numpy as np

from semlink.channel.cell.schedulers.base import SCHEDULERS, Allocation, CellView, Scheduler
from semlink.settings import check_number

RESELECTION = (5, 15)
"""Reselection counter range (slots with a transmission), TS 38.321's for a 100 ms period."""


@SCHEDULERS.register("mode2")
class SidelinkMode2(Scheduler):
    """Sensing-based semi-persistent selection of subchannels (see the module docstring).

    :param subchannels: subchannels the carrier is cut into (each of ``blocks // subchannels``).
    :param sensing: exclude the subchannels others reserve (False: uniform random selection).
    :param keep_probability: chance of keeping a reservation when its counter runs out.
    """

    name = "mode2"

    def __init__(self, subchannels: int = 10, sensing: bool = True, keep_probability: float = 0.0) -> None:
        self.subchannels = int(check_number("mode2", "subchannels", subchannels, 1, 275))
        if not isinstance(sensing, bool):
            raise ValueError(f"mode2: sensing={sensing!r} must be true or false")
        self.sensing = sensing
        self.keep_probability = check_number("mode2", "keep_probability", keep_probability, 0.0, 1.0)
        self.reserved = np.zeros(0, dtype=np.int64)
        self.counter = np.zeros(0, dtype=np.int64)

    def reset(self, vehicles: int) -> None:
        """No reservations."""
        self.reserved = np.full(vehicles, -1, dtype=np.int64)
        self.counter = np.zeros(vehicles, dtype=np.int64)

    def allocate(self, view: CellView) -> Allocation:
        """Each vehicle with data transmits on its reserved subchannel, selecting one first where it
        has none; vehicles sharing a subchannel collide."""
        if self.reserved.size != view.vehicles:
            self.reset(view.vehicles)
        active = np.flatnonzero(view.queued_bits > 0)
        self._select(active, view.rng)
        per_channel = max(1, view.blocks // self.subchannels)
        grants = np.zeros(view.vehicles, dtype=np.int64)
        grants[active] = np.minimum(view.needs()[active], per_channel)
        users = np.bincount(self.reserved[active], minlength=self.subchannels)
        collided = np.zeros(view.vehicles, dtype=bool)
        collided[active] = users[self.reserved[active]] > 1
        self.counter[active] -= 1
        widest = np.zeros(self.subchannels, dtype=np.int64)
        np.maximum.at(widest, self.reserved[active], grants[active])
        return Allocation(grants, collided, int(widest.sum()))

    def _select(self, active: np.ndarray, rng: np.random.Generator) -> None:
        """Give a subchannel to each active vehicle without a live reservation."""
        expired = active[(self.reserved[active] < 0) | (self.counter[active] <= 0)]
        keep = rng.random(expired.size) < self.keep_probability
        keep &= self.reserved[expired] >= 0
        choosing = expired[~keep]
        taken = np.zeros(self.subchannels, dtype=bool)
        if self.sensing:
            others = np.setdiff1d(active, choosing)
            taken[self.reserved[others][self.reserved[others] >= 0]] = True
        free = np.flatnonzero(~taken)
        pool = free if free.size else np.arange(self.subchannels)
        self.reserved[choosing] = pool[rng.integers(0, pool.size, size=choosing.size)]
        self.counter[expired] = rng.integers(RESELECTION[0], RESELECTION[1] + 1, size=expired.size)
