"""A realisation's vehicles through one cell: the channel stage's buffer for them.

The transmitter sends a realisation's vehicles one after another (each its own unit on the wire:
``point-start``, its frames' packets, ``point-end``). Their packets share one carrier, so the
channel holds them until the last vehicle's ``point-end``, then runs the
:class:`~semlink.channel.cell.medium.Medium` over all of them at once and hands on, vehicle by
vehicle, its ``point-start``, the packets that decoded (each stamped with its arrival time, in
arrival order) and its ``point-end`` with the cell's figures for it (airtime, MCS, HARQ, distance,
SNR, the carrier's utilisation).

Each vehicle captures on its own clock: its frames are ``frame_interval_us`` apart from a phase
drawn uniformly within one interval, so vehicles do not all release their frames in the same
slot. The cell works in its own time (a vehicle's times plus its phase); the receiver gets every
vehicle's times back on the vehicle's clock.

A packet's priority is 0 for a map stream (:data:`FIRST_STREAMS`) and 1 for anything else (what
the ``semantic`` scheduler orders by); its deadline is its frame's capture time plus the link's
deadline.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from semlink.channel.cell.geometry import RSU, SAMPLE_S, Mobility, Track, snr_table, track_of
from semlink.channel.cell.medium import CellOutcome, CellPackets
from semlink.channel.cell.model import CellChannel
from semlink.channel.cell.receiver import Receiver
from semlink.wire import PointEnd, Relayed, encode_message

FIRST_STREAMS = frozenset({"ssm", "caption"})
"""Streams whose packets the ``semantic`` scheduler sends before any other (priority 0)."""
DRAIN_US = 200_000
"""How long past the last frame's deadline the cell's SNR table reaches (HARQ rounds, queues)."""


@dataclass(frozen=True)
class CellPlan:
    """What the channel needs to run one realisation's vehicles through the cell.

    :param group: the realisation's number (shared by its vehicles' units).
    :param vehicles: ``U``. :param make_model: builds the cell's settings.
    :param mobility: where the vehicles drive. :param frames: frames per vehicle.
    :param frame_interval_us: time between a vehicle's frames. :param deadline_us: a frame's
        deadline after its capture (None: none).
    :param road_seed: entropy of the road (starts, speeds, shadowing, fading, phases): the same
        for every point of one vehicle count. :param medium_seed: entropy of the medium's draws.
    :param receiver: who receives (the road's RSU, or a TR 38.901 site) and the pathloss it sees.
    """

    group: int
    vehicles: int
    make_model: Callable[[], CellChannel]
    mobility: Mobility
    frames: int
    frame_interval_us: int
    deadline_us: int | None
    road_seed: tuple[int, ...]
    medium_seed: tuple[int, ...]
    receiver: Receiver = RSU


@dataclass
class _Vehicle:
    """One vehicle's messages as they came."""

    start: bytes
    views: list[Relayed] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    end: PointEnd | None = None


class CellGroup:
    """The buffered units of one realisation's vehicles (see the module docstring).

    :param plan: the realisation's cell plan.
    """

    def __init__(self, plan: CellPlan) -> None:
        self.plan = plan
        self.members: dict[int, _Vehicle] = {}

    def start(self, vehicle: int, part: bytes) -> None:
        """A vehicle's ``point-start`` (as it came)."""
        self.members[vehicle] = _Vehicle(part)

    def add(self, vehicle: int, views: list[Relayed], raws: list[bytes]) -> None:
        """Packets of ``vehicle`` (checked views and their bytes)."""
        member = self.members[vehicle]
        member.views.extend(views)
        member.raws.extend(raws)

    def end(self, vehicle: int, control: PointEnd) -> bool:
        """A vehicle's ``point-end``; True when every vehicle of the realisation has ended."""
        self.members[vehicle].end = control
        return len(self.members) == self.plan.vehicles and all(m.end is not None for m in self.members.values())

    def flush(self, dropped: dict[str, int]) -> list[list[bytes]]:
        """Run the cell and return every vehicle's unit as the receiver gets it, vehicle by vehicle,
        as socket messages: the ``point-start``, each frame's delivered packets, the ``point-end``;
        ``dropped`` (the channel's drops since the last unit ended) rides with the first vehicle's."""
        plan = self.plan
        model = plan.make_model()
        road = np.random.default_rng(np.random.SeedSequence(list(plan.road_seed)))
        phases = road.uniform(0.0, plan.frame_interval_us, plan.vehicles).round()
        duration_us = plan.frames * plan.frame_interval_us + (plan.deadline_us or 0) + DRAIN_US
        times_s = np.arange(0.0, duration_us * 1e-6 + SAMPLE_S, SAMPLE_S)
        track = track_of(plan.mobility, plan.vehicles, times_s, road)
        table = snr_table(track, model.budget, model.numerology, model.fading, duration_us, road, plan.receiver)
        packets, owners = self._packets(phases)
        medium = model.medium(plan.vehicles, table)
        outcome = medium.run(packets, np.random.default_rng(np.random.SeedSequence(list(plan.medium_seed))))
        figures = cell_figures(outcome, packets, model, track, table.large_db)
        out: list[list[bytes]] = []
        for vehicle in range(plan.vehicles):
            member = self.members[vehicle]
            assert member.end is not None
            out.append([member.start])
            mine = np.flatnonzero((owners == vehicle) & ~np.isnan(outcome.arrival_us))
            position = mine - int(np.searchsorted(owners, vehicle))
            arrivals = outcome.arrival_us[mine] - phases[vehicle]
            frame: int | None = None
            for index in np.argsort(arrivals, kind="stable").tolist():
                view = member.views[position[index]]
                if view.frame != frame:
                    out.append([])  # a message per frame, as the transmitter sent them
                    frame = view.frame
                out[-1].append(view.with_time(int(arrivals[index])))
            end = member.end.with_channel(figures[vehicle], dropped if vehicle == 0 else {})
            out.append([encode_message(end)])
        return out

    def _packets(self, phases: np.ndarray) -> tuple[CellPackets, np.ndarray]:
        """Every vehicle's packets in the cell's time, vehicle by vehicle, and each one's vehicle."""
        plan = self.plan
        owners, bits, release, deadline, priority = [], [], [], [], []
        limit = math.inf if plan.deadline_us is None else plan.deadline_us
        for vehicle in range(plan.vehicles):
            member = self.members[vehicle]
            phase = float(phases[vehicle])
            for view, raw in zip(member.views, member.raws, strict=True):
                owners.append(vehicle)
                bits.append(8 * len(raw))
                release.append(view.t_us + phase)
                deadline.append(view.frame * plan.frame_interval_us + phase + limit)
                priority.append(0 if view.stream in FIRST_STREAMS else 1)
        vehicles = np.asarray(owners, dtype=np.int64)
        packets = CellPackets(
            vehicles,
            np.asarray(bits, dtype=np.int64),
            np.asarray(release, dtype=np.float64),
            np.asarray(deadline, dtype=np.float64),
            np.asarray(priority, dtype=np.int64),
        )
        return packets, vehicles


def cell_figures(
    outcome: CellOutcome, packets: CellPackets, model: CellChannel, track: Track, large_db: np.ndarray
) -> list[dict[str, float]]:
    """Each vehicle's figures for its ``point-end``: the radio's totals the results already read
    (``packets``, ``transmissions``, ``mcs_sum``, ``airtime_us``) and the cell's (``cell_*``: its
    position halfway through the drive, mean distance and large-scale SNR over it)."""
    slot_share = model.numerology.slot_us / model.numerology.resource_blocks
    share = outcome.airtime_share()
    expired = outcome.late & np.isnan(outcome.arrival_us)
    figures = []
    middle = track.xy[track.xy.shape[0] // 2]
    for vehicle in range(track.vehicles):
        mine = packets.vehicle == vehicle
        figures.append(
            {
                "packets": float(mine.sum()),
                "transmissions": float(outcome.transmissions[mine].sum()),
                "mcs_sum": float(outcome.mcs_sum[vehicle]),
                "airtime_us": float(outcome.blocks_used[vehicle] * slot_share),
                "cell_airtime_share": float(share[vehicle]),
                "cell_utilisation": float(outcome.utilisation),
                "cell_delivered_bits": float(packets.bits[mine & outcome.delivered].sum()),
                "cell_expired": float(expired[mine].sum()),
                "cell_distance_m": float(track.ground_m[:, vehicle].mean()),
                "cell_snr_db": float(large_db[:, vehicle].mean()),
                "cell_x_m": float(middle[vehicle, 0]),
                "cell_y_m": float(middle[vehicle, 1]),
            }
        )
    return figures
