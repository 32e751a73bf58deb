"""Semantic scheduling: what the task needs most, from every vehicle, before anything else.

Vehicles are served by the priority of their head-of-line packet's stream first (a semantic
codec's map stream, priority 0, before its tokens or its low-resolution image), then by deadline:
while any vehicle still has map packets queued, no vehicle's tokens take the air. A frame whose map
arrived is worth most of its mIoU; its tokens add picture quality. None of the usual schedulers
(round robin, proportional fair, earliest deadline) look at what a packet carries.
"""

from __future__ import annotations

import numpy as np

from semlink.channel.cell.schedulers.base import SCHEDULERS, Allocation, CellView, Scheduler, fill_in_order


@SCHEDULERS.register("semantic")
class SemanticFirst(Scheduler):
    """Serve by (stream priority, deadline) of the head-of-line packet."""

    name = "semantic"

    def allocate(self, view: CellView) -> Allocation:
        """Fill the slot in (priority, deadline) order."""
        needs = view.needs()
        active = np.flatnonzero(needs > 0)
        order = active[np.lexsort((view.deadline_us[active], view.priority[active]))]
        return Allocation.clean(fill_in_order(order, needs, view.blocks))
