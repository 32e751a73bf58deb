"""Earliest deadline first: the vehicle whose head-of-line packet expires soonest is served first,
with all it needs, then the next, until the slot's blocks run out."""

from __future__ import annotations

import numpy as np

from semlink.channel.cell.schedulers.base import SCHEDULERS, Allocation, CellView, Scheduler, fill_in_order


@SCHEDULERS.register("deadline")
class EarliestDeadline(Scheduler):
    """Serve by head-of-line deadline, earliest first (ties: the lower vehicle index)."""

    name = "deadline"

    def allocate(self, view: CellView) -> Allocation:
        """Fill the slot in deadline order."""
        needs = view.needs()
        active = np.flatnonzero(needs > 0)
        order = active[np.argsort(view.deadline_us[active], kind="stable")]
        return Allocation.clean(fill_in_order(order, needs, view.blocks))
