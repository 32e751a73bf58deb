"""Proportional fair: each slot to the vehicles whose achievable rate is highest relative to
the throughput they have had.

The metric of vehicle ``u`` is ``r_u / T_u``: ``r_u`` the bits one resource block carries for it
this slot (its channel now), ``T_u`` an exponential average of its past throughput per slot,
``T_u <- beta * T_u + (1 - beta) * served_u`` every slot (``beta`` 0.98, as Sionna's
``PFSchedulerSUMIMO``). Vehicles are served in decreasing metric, each with all it needs.

Written here rather than with :class:`sionna.sys.PFSchedulerSUMIMO`: Sionna's assumes full
buffers (it grants every resource of a slot whatever a user has queued) and allocates per
resource element over a [slot, frequency] grid of per-user rates, where the medium here grants
whole blocks of one flat rate per vehicle and slot, from queues that empty; importing it also
costs 2.5 s per process.
"""

from __future__ import annotations

import numpy as np

from semlink.channel.cell.schedulers.base import SCHEDULERS, Allocation, CellView, Scheduler, fill_in_order
from semlink.settings import check_number


@SCHEDULERS.register("proportional_fair")
class ProportionalFair(Scheduler):
    """Serve by ``rate now / average throughput`` (see the module docstring).

    :param beta: the average's memory per slot, in (0, 1).
    """

    name = "proportional_fair"

    def __init__(self, beta: float = 0.98) -> None:
        self.beta = check_number("proportional_fair", "beta", beta, 0.0, 1.0, low_open=True, high_open=True)
        self.average = np.zeros(0)

    def reset(self, vehicles: int) -> None:
        """Average throughputs start small and equal (so new vehicles are served first)."""
        self.average = np.full(vehicles, 1.0)

    def allocate(self, view: CellView) -> Allocation:
        """Fill the slot in decreasing ``r / T``; update ``T`` with what each vehicle got."""
        if self.average.size != view.vehicles:
            self.reset(view.vehicles)
        needs = view.needs()
        active = np.flatnonzero(needs > 0)
        metric = view.bits_per_block[active] / self.average[active]
        order = active[np.argsort(-metric, kind="stable")]
        grants = fill_in_order(order, needs, view.blocks)
        served = np.minimum(grants * view.bits_per_block, view.queued_bits)
        self.average = self.beta * self.average + (1.0 - self.beta) * served
        return Allocation.clean(grants)
