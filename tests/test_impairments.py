"""Netem-like impairments: exact delay and link timing, jitter, duplication and reordering statistics.

Statistical checks use fixed seeds and a tolerance of 5 standard errors, so they never flake.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from semlink.channel import Impairments, Schedule
from semlink.channel.impairments import fifo_departures

N = 100_000
SIGMAS = 5.0
SEND = np.arange(N, dtype=np.int64) * 1000  # one packet per millisecond
SIZES = np.full(N, 12_000, dtype=np.int64)


def rng(seed: int = 0) -> np.random.Generator:
    """A fresh generator."""
    return np.random.default_rng(seed)


def by_packet(schedule: Schedule, n: int) -> np.ndarray:
    """[n] arrival of each input packet (of its last copy when duplicated)."""
    arrival = np.zeros(n, dtype=np.int64)
    arrival[schedule.index] = schedule.arrival_us
    return arrival


def test_no_impairment_delivers_at_the_send_times_and_draws_nothing() -> None:
    generator = rng()
    before = generator.bit_generator.state
    schedule = Impairments().schedule(SEND[:100], SIZES[:100], generator)
    assert not Impairments().is_active
    assert schedule.index.tolist() == list(range(100)) and np.array_equal(schedule.arrival_us, SEND[:100])
    assert generator.bit_generator.state == before


@pytest.mark.parametrize(
    "field", [{"delay_ms": 1.0}, {"jitter_ms": 1.0}, {"reorder": 0.1}, {"duplicate": 0.1}, {"rate_bps": 1e6}]
)
def test_any_impairment_makes_it_active(field: dict[str, float]) -> None:
    assert Impairments(**field).is_active


@pytest.mark.parametrize("delay_ms", [0.001, 12.5, 250.0])
def test_delay_shifts_every_arrival_exactly(delay_ms: float) -> None:
    send = np.sort(rng(1).integers(0, 10**9, 1000))
    schedule = Impairments(delay_ms=delay_ms).schedule(send, SIZES[:1000], rng())
    assert schedule.index.tolist() == list(range(1000))
    assert np.array_equal(schedule.arrival_us, send + round(delay_ms * 1000))


@pytest.mark.parametrize(("delay_ms", "jitter_ms"), [(50.0, 5.0), (20.0, 1.0)])
def test_jitter_has_the_asked_mean_and_spread(delay_ms: float, jitter_ms: float) -> None:
    schedule = Impairments(delay_ms=delay_ms, jitter_ms=jitter_ms).schedule(SEND, SIZES, rng(2))
    delays = (schedule.arrival_us - SEND[schedule.index]) / 1000
    assert np.all(np.diff(schedule.arrival_us) >= 0)
    assert abs(delays.mean() - delay_ms) <= SIGMAS * jitter_ms / math.sqrt(N)
    assert abs(delays.std() - jitter_ms) <= SIGMAS * jitter_ms / math.sqrt(2 * N) + 0.001  # + rounding to 1 us


def test_jitter_is_truncated_not_clipped_at_zero_delay() -> None:
    jitter_ms = 2.0
    schedule = Impairments(jitter_ms=jitter_ms).schedule(SEND, SIZES, rng(3))
    delays = (schedule.arrival_us - SEND[schedule.index]) / 1000
    assert delays.min() >= 0
    half_normal_mean = jitter_ms * math.sqrt(2 / math.pi)  # clipping would give a mean of 0.8 ms, not 1.6 ms
    assert abs(delays.mean() - half_normal_mean) <= SIGMAS * jitter_ms / math.sqrt(N) + 0.001


@pytest.mark.parametrize("duplicate", [0.01, 0.2, 0.5, 1.0])
def test_duplicates_appear_twice_at_the_asked_rate(duplicate: float) -> None:
    schedule = Impairments(duplicate=duplicate).schedule(SEND, SIZES, rng(4))
    counts = np.bincount(schedule.index, minlength=N)
    assert counts.min() >= 1 and counts.max() <= 2
    assert abs(np.mean(counts == 2) - duplicate) <= SIGMAS * math.sqrt(duplicate * (1 - duplicate) / N) + 1e-12
    assert np.array_equal(schedule.arrival_us, SEND[schedule.index])  # copies leave with the original


@pytest.mark.parametrize("reorder", [0.05, 0.25, 0.5])
def test_reordered_packets_skip_the_delay_and_overtake(reorder: float) -> None:
    schedule = Impairments(delay_ms=10.0, reorder=reorder).schedule(SEND, SIZES, rng(5))
    arrival = by_packet(schedule, N)
    skipped = arrival == SEND
    assert np.all(skipped | (arrival == SEND + 10_000))
    assert abs(skipped.mean() - reorder) <= SIGMAS * math.sqrt(reorder * (1 - reorder) / N)
    overtakes = arrival[1:] < arrival[:-1]  # needs the packet skipped and its predecessor not
    expected = reorder * (1 - reorder)
    assert np.array_equal(overtakes, skipped[1:] & ~skipped[:-1])
    assert abs(overtakes.mean() - expected) <= SIGMAS * math.sqrt(3 * expected * (1 - expected) / N)


@pytest.mark.parametrize(
    ("busy_in", "ends"),
    [
        (0, [1000, 3000, 5500]),  # packet 1 waits for packet 0; packet 2 finds the link idle
        (2000, [3000, 5000, 5500]),  # the previous frame still holds the link until 2000
        (7000, [8000, 10_000, 10_500]),
    ],
)
def test_rate_serializes_and_queues_first_in_first_out(busy_in: int, ends: list[int]) -> None:
    impairments = Impairments(rate_bps=1e6)  # one bit per microsecond
    schedule = impairments.schedule(np.array([0, 500, 5000]), np.array([1000, 2000, 500]), rng(), busy_in)
    assert schedule.index.tolist() == [0, 1, 2]
    assert schedule.arrival_us.tolist() == ends and schedule.busy_until_us == ends[-1]


def test_rate_then_delay_and_duplicates_take_link_time() -> None:
    impairments = Impairments(delay_ms=1.0, duplicate=1.0, rate_bps=2e6)
    schedule = impairments.schedule(np.array([0, 100]), np.array([1000, 1000]), rng())
    assert schedule.index.tolist() == [0, 0, 1, 1]
    assert schedule.arrival_us.tolist() == [1500, 2000, 2500, 3000] and schedule.busy_until_us == 2000


def test_busy_until_carries_the_queue_across_calls() -> None:
    generator = rng(6)
    send = np.sort(generator.integers(0, 200_000, 400))
    sizes = generator.integers(100, 12_000, 400)
    impairments = Impairments(rate_bps=1e6)
    whole = impairments.schedule(send, sizes, rng())
    first = impairments.schedule(send[:150], sizes[:150], rng())
    second = impairments.schedule(send[150:], sizes[150:], rng(), first.busy_until_us)
    assert np.array_equal(np.concatenate([first.arrival_us, second.arrival_us]), whole.arrival_us)
    assert second.busy_until_us == whole.busy_until_us > 200_000


def test_fifo_departures_match_the_plain_recursion() -> None:
    generator = rng(7)
    send = np.sort(generator.uniform(0, 1e5, 3000))
    durations = generator.exponential(30.0, 3000)
    ends, free = [], 50.0
    for start, duration in zip(send.tolist(), durations.tolist(), strict=True):
        free = max(start, free) + duration
        ends.append(free)
    assert np.allclose(fifo_departures(send, durations, 50.0), ends, rtol=0, atol=1e-6)


def test_arrivals_are_sorted_and_ties_keep_sending_order() -> None:
    schedule = Impairments(delay_ms=5.0, jitter_ms=3.0, duplicate=0.3).schedule(SEND[:5000] // 10, SIZES[:5000], rng(8))
    assert np.all(np.diff(schedule.arrival_us) >= 0)
    tie = np.diff(schedule.arrival_us) == 0
    assert np.all(np.diff(schedule.index)[tie] >= 0)


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ({"delay_ms": -1.0}, "impairments: delay_ms=-1.0 must be >= 0"),
        ({"jitter_ms": float("inf")}, "jitter_ms=inf"),
        ({"reorder": 1.5}, "reorder=1.5 must be in [0, 1]"),
        ({"duplicate": -0.1}, "duplicate=-0.1 must be in [0, 1]"),
        ({"rate_bps": 0.0}, "rate_bps=0.0 must be > 0"),
        ({"delay_ms": "soon"}, "delay_ms='soon' must be a number"),
    ],
)
def test_bad_fields_are_refused_with_one_line(field: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        Impairments(**field)  # type: ignore[arg-type]
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_mismatched_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="send_us"):
        Impairments(delay_ms=1.0).schedule(SEND[:3], SIZES[:4], rng())
