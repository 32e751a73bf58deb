"""Round robin: the slot's resource blocks shared equally among the vehicles with data.

Each vehicle with data gets an equal share, capped at what it needs; what a capped vehicle leaves
goes to the others, shared equally again (water-filling), so no block stays idle while a queue
holds data. The odd blocks of an uneven split go to the vehicles in turn, starting one further
each slot, so over slots equal vehicles get equal airtime.
"""

from __future__ import annotations

import numpy as np

from semlink.channel.cell.schedulers.base import SCHEDULERS, Allocation, CellView, Scheduler


@SCHEDULERS.register("round_robin")
class RoundRobin(Scheduler):
    """Equal shares of each slot among the vehicles with data (see the module docstring)."""

    name = "round_robin"

    def allocate(self, view: CellView) -> Allocation:
        """Water-fill the slot's blocks over the vehicles with data, the odd ones in turn."""
        needs = view.needs()
        grants = np.zeros(view.vehicles, dtype=np.int64)
        active = np.flatnonzero(needs > 0)
        left = view.blocks
        while active.size and left > 0:
            share = left // active.size
            if share == 0:  # fewer blocks than vehicles: one each, in turn from this slot's start
                start = view.slot % active.size
                turn = np.roll(active, -start)[:left]
                grants[turn] += 1
                break
            given = np.minimum(needs[active] - grants[active], share)
            grants[active] += given
            left -= int(given.sum())
            active = active[grants[active] < needs[active]]
        return Allocation.clean(grants)
