"""Simulated BLER points and waterfalls of the link-level chain on AWGN.

Used by ``semlink channel tables`` (the shipped BLER tables) and ``semlink channel curve``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from semlink.channel.phy.chain import LinkChain, Received, chain_for
from semlink.channel.phy.mcs import Mcs


@dataclass(frozen=True)
class BlerPoint:
    """One simulated point.

    :param snr_db: Es/N0 in dB. :param blocks: blocks simulated. :param block_errors: blocks in error.
    :param bit_errors: information bits in error. :param bits: information bits simulated.
    """

    snr_db: float
    blocks: int
    block_errors: int
    bit_errors: int
    bits: int

    @property
    def bler(self) -> float:
        """Block error rate."""
        return self.block_errors / max(self.blocks, 1)

    @property
    def ber(self) -> float:
        """Information bit error rate after decoding."""
        return self.bit_errors / max(self.bits, 1)


def simulate(
    chain: LinkChain,
    snr_db: float,
    rng: np.random.Generator,
    max_blocks: int = 200,
    min_errors: int = 40,
    batch: int = 50,
    fading: str = "awgn",
) -> BlerPoint:
    """BLER of ``chain`` at one SNR: batches until ``min_errors`` block errors or ``max_blocks`` blocks.

    Batches stay <= 256 blocks: larger ones made this CPU spend most of its time in page faults.

    :param fading: ``awgn``, or ``rayleigh``: each block sees one independent unit-power complex
        Gaussian gain (block fading; the receiver knows it).
    """
    blocks = errors = bit_errors = 0
    snr = 10.0 ** (snr_db / 10.0)
    batch = min(batch, 256)
    while blocks < max_blocks and errors < min_errors:
        count = min(batch, max_blocks - blocks)
        bits, symbols = chain.send(count, rng)
        gains = block_gains(count, chain.symbols, rng) if fading == "rayleigh" else None
        llr = chain.receive(symbols, np.full(count, snr), gains, rng)
        wrong = chain.decode(Received(bits, llr))
        blocks += count
        errors += int(wrong.any(axis=1).sum())
        bit_errors += int(wrong.sum())
    return BlerPoint(snr_db, blocks, errors, bit_errors, blocks * chain.block_bits)


def block_gains(count: int, symbols: int, rng: np.random.Generator) -> np.ndarray:
    """[count, symbols] one unit-power complex Gaussian gain per block, repeated over its symbols."""
    g = (rng.standard_normal(count) + 1j * rng.standard_normal(count)) / math.sqrt(2.0)
    return np.repeat(g[:, None], symbols, axis=1)


def shannon_snr_db(scheme: Mcs) -> float:
    """The SNR (dB) at which the AWGN capacity equals the MCS's spectral efficiency: where to look."""
    return 10.0 * math.log10(2.0**scheme.spectral_efficiency - 1.0)


def waterfall(
    scheme: Mcs,
    block_bits: int,
    rng: np.random.Generator,
    step_db: float = 0.25,
    max_blocks: int = 200,
    min_errors: int = 40,
    on_point: Callable[[BlerPoint], None] | None = None,
) -> list[BlerPoint]:
    """The waterfall of one MCS and block size, ``step_db`` apart, from BLER >= 0.95 down to 0 errors.

    First walks up from 1 dB below the Shannon limit in 0.5 dB steps with 24 blocks each until the
    BLER drops below 0.5; then steps down from there until a point has BLER >= 0.95, and up until a
    point has no error in ``max_blocks`` blocks.
    """
    chain = chain_for(scheme, block_bits)
    snr = shannon_snr_db(scheme) - 1.0
    while simulate(chain, snr, rng, max_blocks=24, min_errors=24, batch=24).bler >= 0.5 and snr < 40.0:
        snr += 0.5
    snr = round(snr / step_db) * step_db  # on the step grid, so tables of different sizes share SNRs
    points: dict[float, BlerPoint] = {}

    def run(at: float) -> BlerPoint:
        point = simulate(chain, round(at, 4), rng, max_blocks, min_errors)
        points[round(at, 4)] = point
        if on_point is not None:
            on_point(point)
        return point

    at = snr
    while run(at).bler < 0.95 and at > snr - 6.0:
        at -= step_db
    at = snr + step_db
    while run(at).block_errors > 0 and at < snr + 8.0:
        at += step_db
    return [points[k] for k in sorted(points)]
