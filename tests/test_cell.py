"""The cell: schedulers sharing one carrier among vehicles, the medium's queues and deadlines, the
road and its link budget."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semlink.channel.cell.budget import LinkBudget
from semlink.channel.cell.medium import CellOutcome, CellPackets, Medium
from semlink.channel.cell.road import Road
from semlink.channel.cell.schedulers import SCHEDULERS, CellView
from semlink.channel.phy.numerology import Numerology
from semlink.registry import UnknownComponentError

CARRIER = Numerology(bandwidth_mhz=10, scs_khz=30)  # 24 resource blocks, 0.5 ms slots
# at 20 dB: 767 bits a block, so about 3.7 Mbit each 100 ms frame period


def frames(vehicles: int, count: int, bits: int, map_bits: int = 0, fps: float = 10.0) -> CellPackets:
    """Each vehicle sends a frame every 1/fps s: a map packet of ``map_bits`` (priority 0, when
    given) then ``bits`` of other packets (priority 1) in packets of at most 9,600 bits, each due
    100 ms after its frame."""
    rows: list[tuple[int, int, float, float, int]] = []
    for frame in range(count):
        start = frame * 1e6 / fps
        for vehicle in range(vehicles):
            if map_bits:
                rows.append((vehicle, map_bits, start, start + 100_000.0, 0))
            left = bits
            while left > 0:
                size = min(left, 9600)
                rows.append((vehicle, size, start, start + 100_000.0, 1))
                left -= size
    columns = list(zip(*rows, strict=True))
    return CellPackets(*(np.array(column) for column in columns))


def run(name: str, packets: CellPackets, vehicles: int, snr: np.ndarray | float = 20.0, seed: int = 0) -> CellOutcome:
    """The packets through the carrier under scheduler ``name`` at fixed SNRs per vehicle."""
    levels = np.broadcast_to(np.asarray(snr, dtype=np.float64), (vehicles,))
    medium = Medium(CARRIER, SCHEDULERS.get(name)(), vehicles, lambda ids, _t: levels[ids])
    return medium.run(packets, np.random.default_rng(seed))


def jain(values: np.ndarray) -> float:
    """Jain's fairness index of ``values``."""
    return float(values.sum() ** 2 / (values.size * (values**2).sum()))


def test_far_below_capacity_every_packet_arrives_in_time_as_on_its_own_link() -> None:
    packets = frames(4, 10, 20_000)
    shared = run("round_robin", packets, 4)
    assert shared.delivered.all() and not shared.late.any() and shared.utilisation < 0.2
    for vehicle in range(4):
        mine = packets.vehicle == vehicle
        alone = CellPackets(*(a[mine] for a in (packets.vehicle * 0, packets.bits, packets.release_us,
                                                 packets.deadline_us, packets.priority)))  # fmt: skip
        assert run("round_robin", alone, 1).delivered.sum() == shared.delivered[mine].sum()


@pytest.mark.parametrize("name", ["round_robin", "proportional_fair", "deadline", "semantic"])
def test_at_overload_the_carrier_is_full_and_frames_are_late(name: str) -> None:
    outcome = run(name, frames(64, 6, 120_000), 64)  # twice the capacity
    assert outcome.utilisation > 0.97
    assert outcome.late.mean() > 0.2


def test_round_robin_gives_equal_vehicles_equal_airtime() -> None:
    outcome = run("round_robin", frames(16, 4, 400_000), 16)
    assert outcome.utilisation > 0.97 and jain(outcome.blocks_used.astype(float)) >= 0.99


def test_proportional_fair_favours_the_better_channel_within_its_fairness() -> None:
    # on channels that do not change, proportional fair settles on equal airtime: each vehicle's
    # throughput follows its rate (it gains over round robin only where channels fade)
    snr = np.array([22.0] * 8 + [4.0] * 8)
    packets = frames(16, 4, 400_000)
    fair = run("proportional_fair", packets, 16, snr)
    bits = np.bincount(packets.vehicle, weights=packets.bits * fair.delivered, minlength=16)
    assert bits[:8].sum() > 3 * bits[8:].sum() > 0  # the better channels carry more, the worse some
    assert jain(fair.blocks_used.astype(float)) > 0.95


def test_semantic_delivers_more_map_streams_than_round_robin_at_overload() -> None:
    # 128 vehicles, each a 40 kbit map and 20 kbit of tokens a frame: an equal share (29 kbit a
    # frame) completes no map in time; serving whole maps first completes most
    packets = frames(128, 3, 20_000, map_bits=40_000)
    is_map = packets.priority == 0
    semantic = run("semantic", packets, 128)
    equal = run("round_robin", packets, 128)
    assert semantic.delivered[is_map].mean() > equal.delivered[is_map].mean() + 0.4


def test_mode2_without_sensing_collides_as_independent_uniform_selection() -> None:
    subchannels, vehicles, trials = 10, 6, 4000
    scheduler = SCHEDULERS.get("mode2")(subchannels=subchannels, sensing=False)
    rng = np.random.default_rng(3)
    ones = np.ones(vehicles)
    collided = 0
    for _ in range(trials):
        scheduler.reset(vehicles)
        view = CellView(0, 50, ones * 1000, ones * 100, ones * np.inf, np.zeros(vehicles, dtype=int), rng)
        collided += int(scheduler.allocate(view).collided.sum())
    expected = 1 - (1 - 1 / subchannels) ** (vehicles - 1)
    rate = collided / (trials * vehicles)
    assert abs(rate - expected) < 4 * math.sqrt(expected * (1 - expected) / trials)


def test_mode2_sensing_avoids_the_reservations_it_heard() -> None:
    scheduler = SCHEDULERS.get("mode2")(subchannels=4, sensing=True)
    rng = np.random.default_rng(0)
    scheduler.reset(4)
    queued = np.array([1000.0, 0, 0, 0])
    for vehicle in range(4):  # vehicles arrive one slot after another: each hears the earlier ones
        queued[vehicle] = 1000.0
        view = CellView(vehicle, 40, queued.copy(), np.full(4, 100.0), np.full(4, np.inf), np.zeros(4, dtype=int), rng)
        grant = scheduler.allocate(view)
    assert not grant.collided.any() and sorted(scheduler.reserved.tolist()) == [0, 1, 2, 3]


def test_a_scheduler_is_found_by_name_with_a_did_you_mean() -> None:
    with pytest.raises(UnknownComponentError, match="did you mean 'round_robin'"):
        SCHEDULERS.get("round_robbin")
    assert set(SCHEDULERS.names()) >= {"round_robin", "proportional_fair", "deadline", "semantic", "mode2"}


def test_the_road_keeps_its_vehicles_on_it_and_refuses_too_many() -> None:
    road = Road(lanes=2, spacing_m=20.0, speed_kmh=72.0, length_m=400.0)
    xy = road.positions(10, np.random.default_rng(1), np.linspace(0.0, 60.0, 61))
    assert xy.shape == (61, 10, 2) and np.abs(xy[..., 0]).max() <= 200.0
    assert set(np.unique(xy[..., 1]).tolist()) == {0.0, 3.5}
    with pytest.raises(ValueError, match="vehicles: 50 vehicles at spacing_m=20 on 2 lanes need 500 m"):
        road.start(50, np.random.default_rng(0))


def test_the_budget_follows_distance_where_power_runs_out() -> None:
    budget = LinkBudget()
    ground = np.array([20.0, 100.0, 400.0, 1500.0])
    loss = budget.pathloss_db(ground, 10.0, 1.5)
    assert np.all(np.diff(loss) > 0)
    snr = budget.snr_db(loss, blocks_each=24.0)
    assert snr[0] == pytest.approx(-90.0 - budget.noise_per_block_dbm())  # power control holds it
    assert snr[-1] < snr[0] - 5.0  # at the edge the vehicle's power runs out


def test_shadowing_is_correlated_along_the_road() -> None:
    budget = LinkBudget(decorrelation_m=10.0)
    rng = np.random.default_rng(5)
    near = budget.shadowing(np.full((4000, 1), 1.0), rng)[:, 0]
    far = budget.shadowing(np.full((4000, 1), 100.0), rng)[:, 0]
    assert np.corrcoef(near[:-1], near[1:])[0, 1] > 0.85
    assert abs(np.corrcoef(far[:-1], far[1:])[0, 1]) < 0.1
    assert near.std() == pytest.approx(4.0, rel=0.2)
