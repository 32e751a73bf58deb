"""The shared medium: every vehicle's packets through one carrier, slot by slot, as a scheduler
grants its resource blocks.

Packets join their vehicle's queue (first in, first out) when they are released (captured and
coded). Each slot the medium drops the head-of-line packets whose deadline has passed (late), asks
the scheduler for the slot's grants among the vehicles with data, and spends each grant on its
vehicle's queue: ``blocks x bits_per_block`` bits, ``bits_per_block`` from the MCS its link
adaptation picks for the vehicle's SNR that slot (the highest of semlink's BLER tables whose 10 %
threshold it clears; the lowest below them all). A packet whose last bit is sent is one
transmission: it decodes with probability ``1 - BLER`` at that MCS and SNR (one code block of up to
8448 bits carries the packet's rate), else it waits ``harq_rtt_us`` and is sent again in full, up
to ``harq_max_tx`` transmissions; then it is lost. A grant that collided (sidelink) sends nothing
that decodes: the head packet's transmission counts and fails. Only slots in which some queue
holds data are simulated; an idle carrier jumps to the next release.

Written here because no library simulates queues of variable-size packets with deadlines over a
slot-level scheduler (Sionna's system level schedules full buffers for one slot at a time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from semlink.channel.cell.schedulers.base import CellView, Scheduler
from semlink.channel.phy.mcs import mcs
from semlink.channel.phy.numerology import DATA_SYMBOLS_PER_SLOT, SUBCARRIERS_PER_PRB, Numerology
from semlink.channel.phy.tables import BlerModel

BLOCK_BITS = 8448
"""Information bits of the code block whose BLER stands for a packet's (the largest LDPC block)."""

SnrFunction = Callable[[np.ndarray, float], np.ndarray]
"""``(vehicles [K], time_us) -> [K]`` SNR (dB) of those vehicles at that time."""


@dataclass(frozen=True)
class CellPackets:
    """Every packet a point sends over the cell, as arrays over ``P`` packets.

    :param vehicle: [P] sending vehicle (0 .. U-1). :param bits: [P] packet sizes in bits (> 0).
    :param release_us: [P] when each joins its vehicle's queue.
    :param deadline_us: [P] after which it is worthless (inf: no deadline).
    :param priority: [P] its stream's priority (lower is more important).
    """

    vehicle: np.ndarray
    bits: np.ndarray
    release_us: np.ndarray
    deadline_us: np.ndarray
    priority: np.ndarray

    @property
    def count(self) -> int:
        """``P``."""
        return int(self.bits.size)


@dataclass(frozen=True)
class CellOutcome:
    """What became of a point's packets, and how the carrier was used.

    :param delivered: [P] decoded before their deadline.
    :param late: [P] still queued (or in flight) at their deadline.
    :param arrival_us: [P] when each decoded (NaN if it did not).
    :param transmissions: [P] transmissions each took (0: never sent).
    :param blocks_used: [U] resource-block slots granted to each vehicle.
    :param utilisation: resource-block slots in use (overlapping sidelink grants once) over all of
        them, from the first release to the last slot with data.
    :param slots: slots simulated (with data queued).
    :param mcs_sum: [U] the MCS indices of each vehicle's transmissions, summed (a mean per
        transmission over ``transmissions``).
    """

    delivered: np.ndarray
    late: np.ndarray
    arrival_us: np.ndarray
    transmissions: np.ndarray
    blocks_used: np.ndarray
    utilisation: float
    slots: int
    mcs_sum: np.ndarray

    def airtime_share(self) -> np.ndarray:
        """[U] each vehicle's share of the blocks granted."""
        total = self.blocks_used.sum()
        return self.blocks_used / total if total else np.zeros(self.blocks_used.size)


class LinkAdaptation:
    """The MCS each SNR supports: the highest of semlink's tabulated MCSs whose BLER at
    :data:`BLOCK_BITS` falls to ``target_bler`` at or below that SNR.

    :param model: the BLER tables. :param target_bler: the BLER aimed at.
    """

    def __init__(self, model: BlerModel, target_bler: float = 0.1) -> None:
        self.model = model
        indices = list(model.own_mcs)
        thresholds = []
        for index in indices:
            curves = model.own.curves[index]
            size = min(curves, key=lambda bits: abs(bits - BLOCK_BITS))
            thresholds.append(curves[size].snr_at(target_bler))
        known = [(t, i) for t, i in zip(thresholds, indices, strict=True) if not math.isnan(t)]
        known.sort()
        self.thresholds = np.array([t for t, _ in known])
        self.indices = np.array([i for _, i in known], dtype=np.int64)
        self.efficiency = np.array([mcs(int(i)).spectral_efficiency for i in self.indices])

    def choose(self, snr_db: np.ndarray) -> np.ndarray:
        """[K] MCS index for each SNR (the lowest tabulated one below every threshold)."""
        position = np.searchsorted(self.thresholds, snr_db, side="right") - 1
        return self.indices[np.maximum(position, 0)]

    def bits_per_block(self, snr_db: np.ndarray) -> np.ndarray:
        """[K] information bits one resource block carries in one slot at the chosen MCS."""
        position = np.maximum(np.searchsorted(self.thresholds, snr_db, side="right") - 1, 0)
        symbols = SUBCARRIERS_PER_PRB * DATA_SYMBOLS_PER_SLOT
        return np.maximum(1.0, np.floor(symbols * self.efficiency[position]))


class Medium:
    """One carrier shared by ``vehicles`` vehicles under a scheduler (see the module docstring).

    :param numerology: the carrier's resource grid. :param scheduler: who gets the blocks.
    :param vehicles: ``U``. :param snr_db: each vehicle's SNR over time.
    :param harq_max_tx: transmissions per packet at most. :param harq_rtt_us: wait before a resend.
    :param adaptation: link adaptation (default: semlink's tables at 10 % BLER).
    """

    def __init__(
        self,
        numerology: Numerology,
        scheduler: Scheduler,
        vehicles: int,
        snr_db: SnrFunction,
        harq_max_tx: int = 4,
        harq_rtt_us: float = 1000.0,
        adaptation: LinkAdaptation | None = None,
    ) -> None:
        self.numerology, self.scheduler, self.vehicles = numerology, scheduler, vehicles
        self.snr_db, self.harq_max_tx, self.harq_rtt_us = snr_db, harq_max_tx, harq_rtt_us
        self.adaptation = adaptation if adaptation is not None else LinkAdaptation(BlerModel())

    def run(self, packets: CellPackets, rng: np.random.Generator) -> CellOutcome:
        """Send ``packets`` through the carrier; ``rng`` draws decoding outcomes and the
        scheduler's choices."""
        self.scheduler.reset(self.vehicles)
        return _Run(self, packets, rng).result()


class _Run:
    """The state of one :meth:`Medium.run`: queues, heads, counters (per-packet state in Python
    lists: the loops touch one packet at a time, where numpy scalars cost more than they save)."""

    def __init__(self, medium: Medium, packets: CellPackets, rng: np.random.Generator) -> None:
        self.medium, self.packets, self.rng = medium, packets, rng
        count, vehicles = packets.count, medium.vehicles
        self.order = np.lexsort((np.arange(count), packets.release_us)).tolist()  # release order, stable
        self.release: list[float] = packets.release_us.astype(float).tolist()
        self.deadline: list[float] = packets.deadline_us.astype(float).tolist()
        self.priority: list[int] = packets.priority.astype(int).tolist()
        self.bits: list[float] = packets.bits.astype(float).tolist()
        self.owner: list[int] = packets.vehicle.astype(int).tolist()
        self.remaining = list(self.bits)
        self.ready = list(self.release)
        self.next_release = 0
        self.queues: list[list[int]] = [[] for _ in range(vehicles)]
        self.delivered = np.zeros(count, dtype=bool)
        self.late = np.zeros(count, dtype=bool)
        self.arrival_us = np.full(count, np.nan)
        self.transmissions = np.zeros(count, dtype=np.int64)
        self.blocks_used = np.zeros(vehicles, dtype=np.int64)
        self.mcs_sum = np.zeros(vehicles, dtype=np.int64)
        self.slots = 0
        self.occupied = 0

    def result(self) -> CellOutcome:
        """Run every slot with data and return the outcome."""
        slot_us = self.medium.numerology.slot_us
        if not self.order:
            return self._outcome(0.0)
        first = int(min(self.release) // slot_us)
        slot = last = first
        while True:
            now = slot * slot_us
            self._admit(now)
            self._expire(now)
            if not any(self.queues):
                if self.next_release >= len(self.order):
                    break
                slot = max(slot + 1, int(self.release[self.order[self.next_release]] // slot_us))
                continue
            self._serve(slot, now)
            last = slot
            slot += 1
        span = (last - first + 1) * self.medium.numerology.resource_blocks
        return self._outcome(self.occupied / span if span else 0.0)

    def _outcome(self, utilisation: float) -> CellOutcome:
        return CellOutcome(
            self.delivered,
            self.late,
            self.arrival_us,
            self.transmissions,
            self.blocks_used,
            utilisation,
            self.slots,
            self.mcs_sum,
        )

    def _admit(self, now: float) -> None:
        """Queue the packets released by ``now``."""
        while self.next_release < len(self.order):
            packet = self.order[self.next_release]
            if self.release[packet] > now:
                break
            self.queues[self.owner[packet]].append(packet)
            self.next_release += 1

    def _expire(self, now: float) -> None:
        """Drop queued packets whose deadline has passed (late)."""
        for vehicle, queue in enumerate(self.queues):
            if any(self.deadline[p] <= now for p in queue):
                for packet in queue:
                    if self.deadline[packet] <= now:
                        self.late[packet] = True
                self.queues[vehicle] = [p for p in queue if self.deadline[p] > now]

    def _view(self, slot: int, now: float) -> CellView:
        """The scheduler's view of the slot (each vehicle's SNR from the medium's function)."""
        vehicles = self.medium.vehicles
        queued = np.zeros(vehicles)
        deadline = np.full(vehicles, np.inf)
        priority = np.zeros(vehicles, dtype=np.int64)
        for vehicle, queue in enumerate(self.queues):
            ready = [p for p in queue if self.ready[p] <= now]
            if ready:
                queued[vehicle] = sum(self.remaining[p] for p in ready)
                deadline[vehicle] = self.deadline[ready[0]]
                priority[vehicle] = self.priority[ready[0]]
        self.snr = self.medium.snr_db(np.arange(vehicles), now)
        self.mcs = self.medium.adaptation.choose(self.snr)
        per_block = self.medium.adaptation.bits_per_block(self.snr)
        return CellView(slot, self.medium.numerology.resource_blocks, queued, per_block, deadline, priority, self.rng)

    def _serve(self, slot: int, now: float) -> None:
        """One slot: grants, each granted vehicle's queue, then the slot's transmissions' fates."""
        view = self._view(slot, now)
        if not view.queued_bits.any():  # every queued packet waits for its HARQ round trip
            return
        self.slots += 1
        grant = self.medium.scheduler.allocate(view)
        self.blocks_used += grant.blocks
        self.occupied += grant.occupied
        finished: list[tuple[int, int, bool]] = []
        for vehicle in np.flatnonzero(grant.blocks > 0).tolist():
            budget = float(grant.blocks[vehicle] * view.bits_per_block[vehicle])
            finished += self._spend(vehicle, budget, bool(grant.collided[vehicle]), now)
        if finished:
            self._settle(finished, now + self.medium.numerology.slot_us)

    def _spend(self, vehicle: int, budget: float, collided: bool, now: float) -> list[tuple[int, int, bool]]:
        """Send ``budget`` bits of ``vehicle``'s ready packets; the ``(vehicle, packet, collided)``
        transmissions this finishes."""
        finished = []
        for packet in [p for p in self.queues[vehicle] if self.ready[p] <= now]:
            if budget <= 0:
                break
            sent = min(budget, self.remaining[packet])
            budget -= sent
            self.remaining[packet] -= sent
            if self.remaining[packet] > 0:
                break
            finished.append((vehicle, packet, collided))
            if collided:
                break
        return finished

    def _settle(self, finished: list[tuple[int, int, bool]], end: float) -> None:
        """The transmissions ending at ``end``: each decoded, resent after the HARQ round trip, or lost."""
        vehicles = np.array([v for v, _, _ in finished])
        blocks = np.array([min(self.bits[p], BLOCK_BITS) for _, p, _ in finished])
        bler = self.medium.adaptation.model.bler(self.mcs[vehicles], self.snr[vehicles], blocks)
        bler[np.array([c for _, _, c in finished])] = 1.0
        draws = self.rng.random(len(finished))
        for (vehicle, packet, _), error, draw in zip(finished, bler.tolist(), draws.tolist(), strict=True):
            self.transmissions[packet] += 1
            self.mcs_sum[vehicle] += int(self.mcs[vehicle])
            if draw >= error:
                self.delivered[packet] = end <= self.deadline[packet]
                self.late[packet] = not self.delivered[packet]
                self.arrival_us[packet] = end
                self.queues[vehicle].remove(packet)
            elif self.transmissions[packet] >= self.medium.harq_max_tx:
                self.queues[vehicle].remove(packet)
            else:
                self.remaining[packet] = self.bits[packet]
                self.ready[packet] = end + self.medium.harq_rtt_us
