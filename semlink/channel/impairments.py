"""Netem-like timing impairments: delay, jitter, reordering, duplication and a rate-limited link.

A packet's journey, in this order:

1. **duplicate**: with probability ``duplicate`` the packet is sent twice; the copy follows the
   original at once and goes through every later step on its own draws (as netem's copy does).
2. **link** (only with ``rate_bps``): copies are serialized first-in first-out; a copy starts when it
   is sent or when the previous one has finished, whichever is later, and takes ``bits / rate_bps``.
   Without a rate the link takes no time.
3. **delay**: ``delay_ms`` plus a normal jitter of standard deviation ``jitter_ms``, *truncated* (drawn
   again, not clipped) so that the total delay is >= 0, i.e. no copy arrives before it has left the
   link. With ``jitter_ms`` comparable to ``delay_ms`` the mean delay is therefore above ``delay_ms``
   (with ``delay_ms = 0`` the delay is half-normal). Large jitter reorders packets, as in netem.
4. **reorder**: with probability ``reorder`` a copy skips step 3 (netem's ``reorder``): it arrives as
   soon as it leaves the link, overtaking earlier packets still in flight. Without delay it overtakes
   nothing.

Times are integer microseconds; arrivals and the link's busy time are rounded to the nearest one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semlink.channel.base import check_number, check_probability

NAME = "impairments"


@dataclass(frozen=True)
class Schedule:
    """When each copy of a batch of packets arrives.

    :param index: [M] int64: the input packet each output copy is (a duplicated packet appears twice).
    :param arrival_us: [M] int64 arrival times in microseconds, ascending (ties keep sending order).
    :param busy_until_us: when the link is free again; pass it to the next call to carry the queue.
    """

    index: np.ndarray
    arrival_us: np.ndarray
    busy_until_us: int


def fifo_departures(send_us: np.ndarray, durations_us: np.ndarray, busy_until_us: float = 0.0) -> np.ndarray:
    """End times of FIFO transmissions, without a Python loop.

    With ``D_i`` the cumulative duration up to and including ``i``, the end of transmission ``i`` is
    ``D_i + max(busy_until, max_{j <= i} (send_j - D_{j-1}))``: a running maximum.

    :param send_us: [M] times the copies are handed to the link, in order.
    :param durations_us: [M] transmission durations.
    :param busy_until_us: when the link finishes what it was sending before.
    :return: [M] float64 end times.
    """
    done = np.cumsum(durations_us, dtype=np.float64)
    slack = np.maximum.accumulate(send_us - (done - durations_us))
    return done + np.maximum(slack, busy_until_us)


def truncated_normal(mean: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Normal draws around ``mean`` conditioned on being >= 0 (redrawn until they are).

    Each draw is accepted with probability >= 1/2 because ``mean >= 0``, so the loop is short.

    :param mean: [M] means, >= 0.
    :param std: standard deviation, > 0.
    :param rng: the source of every draw.
    :return: [M] float64 draws, all >= 0.
    """
    out = mean + std * rng.standard_normal(mean.size)
    redo = np.flatnonzero(out < 0)
    while redo.size:
        out[redo] = mean[redo] + std * rng.standard_normal(redo.size)
        redo = redo[out[redo] < 0]
    return out


@dataclass(frozen=True)
class Impairments:
    """Netem-like timing impairments of a link (see the module docstring for the order of steps).

    :param delay_ms: fixed one-way delay, >= 0.
    :param jitter_ms: standard deviation of the normal jitter on the delay, >= 0 (truncated at zero delay).
    :param reorder: probability that a copy skips the delay and overtakes earlier ones, in [0, 1].
    :param duplicate: probability that a packet is sent twice, in [0, 1].
    :param rate_bps: link rate in bits per second (serialization and FIFO queueing), > 0; None: infinite.
    """

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    rate_bps: float | None = None

    def __post_init__(self) -> None:
        """Check every field, with a one-line ``ValueError`` naming the field."""
        check_number(NAME, "delay_ms", self.delay_ms, 0.0)
        check_number(NAME, "jitter_ms", self.jitter_ms, 0.0)
        check_probability(NAME, "reorder", self.reorder)
        check_probability(NAME, "duplicate", self.duplicate)
        if self.rate_bps is not None:
            check_number(NAME, "rate_bps", self.rate_bps, 0.0, low_open=True)

    @property
    def is_active(self) -> bool:
        """Whether any impairment is set (else :meth:`schedule` delivers at the send times, in order)."""
        timing = (self.delay_ms, self.jitter_ms, self.reorder, self.duplicate)
        return any(value > 0 for value in timing) or self.rate_bps is not None

    def schedule(
        self, send_us: np.ndarray, sizes_bits: np.ndarray, rng: np.random.Generator, busy_until_us: int = 0
    ) -> Schedule:
        """Arrival times of a batch of packets.

        Draws (each only when its impairment is set, in this order): one uniform per packet for
        duplication, normals for jitter, one uniform per copy for reordering.

        :param send_us: [N] int times in microseconds the packets are sent, in sending order.
        :param sizes_bits: [N] int sizes in bits.
        :param rng: the source of every draw.
        :param busy_until_us: when the link is free, from the previous call's :class:`Schedule`.
        :return: the copies in order of arrival.
        :raises ValueError: if the arrays are not one-dimensional and of the same length.
        """
        send = np.asarray(send_us, dtype=np.int64)
        sizes = np.asarray(sizes_bits, dtype=np.int64)
        if send.ndim != 1 or send.shape != sizes.shape:
            raise ValueError(f"{NAME}: send_us {send.shape} and sizes_bits {sizes.shape} must be [N] and [N]")
        copies = self._copies(send.size, rng)
        left = self._link(send[copies], sizes[copies], busy_until_us)
        arrival = np.rint(left + self._delays(copies.size, rng)).astype(np.int64)
        order = np.argsort(arrival, kind="stable")
        busy = max(busy_until_us, round(float(left[-1]))) if left.size else busy_until_us
        return Schedule(copies[order], arrival[order], int(busy))

    def _copies(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """[M] int64 input index of each copy in sending order (a duplicate right after its original)."""
        packets = np.arange(n, dtype=np.int64)
        if self.duplicate == 0.0:
            return packets
        twice = rng.random(n) < self.duplicate
        return np.repeat(packets, 1 + twice.astype(np.int64))

    def _link(self, send_us: np.ndarray, sizes_bits: np.ndarray, busy_until_us: int) -> np.ndarray:
        """[M] float64 times the copies have left the link (their send times without a rate)."""
        if self.rate_bps is None:
            return send_us.astype(np.float64)
        return fifo_departures(send_us, sizes_bits * (1e6 / self.rate_bps), busy_until_us)

    def _delays(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """[M] float64 delays in microseconds after the link: delay + truncated jitter, 0 if reordered."""
        delays = np.full(m, self.delay_ms * 1e3)
        if self.jitter_ms > 0.0:
            delays = truncated_normal(delays, self.jitter_ms * 1e3, rng)
        if self.reorder > 0.0:
            delays[rng.random(m) < self.reorder] = 0.0
        return delays
