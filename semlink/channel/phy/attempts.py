"""What the radio's decoding strategies exchange: a batch's transmission attempts, their outcome,
and the SNR samples over each transmission's resource elements (:mod:`semlink.channel.phy.radio`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from semlink.channel.phy.mcs import Blocks

MAX_TIME_SAMPLES = 16
"""OFDM symbols sampled per transmission for the abstraction's effective SNR."""


@dataclass(frozen=True)
class Attempts:
    """What the decoding strategy needs of a batch.

    :param mcs: [N] MCS index per packet.
    :param blocks: code blocks per packet and their sizes.
    :param block_symbols: [N] QAM symbols per code block.
    :param start_us: [N] start of each packet's first transmission.
    :param sizes_bits: [N] packet sizes (for the bit positions of damage).
    :param spacing_us: [N] time from one attempt of a packet to the next.
    """

    mcs: np.ndarray
    blocks: Blocks
    block_symbols: np.ndarray
    start_us: np.ndarray
    sizes_bits: np.ndarray
    spacing_us: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """How the attempts went.

    :param transmissions: [N] transmissions per packet (1 .. harq_max_tx).
    :param ok: [N] whether each packet decoded in the end.
    :param flips: packet index -> bit positions in error, for failed packets whose damage is known.
    """

    transmissions: np.ndarray
    ok: np.ndarray
    flips: dict[int, np.ndarray]


@functools.lru_cache(maxsize=256)
def sampled_symbols(span: int) -> tuple[np.ndarray, np.ndarray]:
    """The OFDM symbols sampled of a transmission ``span`` symbols long, for effective SNRs.

    16 evenly spaced symbols, repeating them when it has fewer.

    :return: the distinct symbol indices [S] (float), and how many of the 16 samples each stands for [S].
    """
    positions = (np.arange(MAX_TIME_SAMPLES) + 0.5) / MAX_TIME_SAMPLES
    distinct, counts = np.unique(np.floor(positions * span), return_counts=True)
    distinct.flags.writeable = False
    counts.flags.writeable = False
    return distinct, counts


@dataclass(frozen=True)
class SnrSamples:
    """Linear SNRs sampled over each transmission's resource elements, and their weights in a mean.

    :param values: [N, R] linear SNRs.
    :param weights: [N, R] (or broadcastable [1, R]) weights, each row summing to 1: a sample that
        stands for several OFDM symbols weighs as many.
    """

    values: np.ndarray
    weights: np.ndarray

    def take(self, rows: np.ndarray) -> SnrSamples:
        """The samples of some transmissions (an index or a mask over the rows)."""
        weights = self.weights if self.weights.shape[0] == 1 else self.weights[rows]
        return SnrSamples(self.values[rows], weights)

    def plus(self, other: SnrSamples) -> SnrSamples:
        """Element-wise sum of two attempts' samples of the same transmissions (chase combining)."""
        return SnrSamples(self.values + other.values, self.weights)
