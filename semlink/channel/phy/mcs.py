"""Modulation and coding schemes (3GPP TS 38.214 Table 5.1.3.1-2) and the code blocks of a packet.

The table is the 256-QAM PDSCH table, so one index covers QPSK, 16-, 64- and 256-QAM; a test
checks it against Sionna's ``decode_mcs_index``. Indices 0 and 1 (code rates 0.117 and 0.188) are
left out: Sionna's 5G LDPC encoder refuses rates below 1/5 (it has no repetition coding).

A packet of ``b`` bits gains a 24-bit CRC (CRC24A) and is cut into ``C = ceil((b + 24) / 3824)``
code blocks of equal size, padded with filler bits to a multiple of 16; each is LDPC-coded on its
own at the MCS's rate and the packet is delivered only when every block decodes and the CRC holds.
3824 is the largest block of 5G's base graph 2 (Sionna switches to base graph 1 above it, which
refuses rates below 1/3); the single limit (rather than 5G's BG1/BG2 switch and blocks of up to
8448 bits) keeps the link-level chain's batches uniform, which costs a fraction of a dB of coding
gain on full-size packets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import numpy as np

CRC_BITS: Final = 24
"""Bits of the per-packet CRC (CRC24A)."""
MAX_BLOCK_BITS: Final = 3824
"""Largest code block (information bits)."""
BLOCK_QUANTUM: Final = 16
"""Code blocks are padded to a multiple of this many bits."""

# index: (bits per symbol, code rate x 1024), TS 38.214 Table 5.1.3.1-2.
_TABLE_2: Final[dict[int, tuple[int, float]]] = {
    2: (2, 308),
    3: (2, 449),
    4: (2, 602),
    5: (4, 378),
    6: (4, 434),
    7: (4, 490),
    8: (4, 553),
    9: (4, 616),
    10: (4, 658),
    11: (6, 466),
    12: (6, 517),
    13: (6, 567),
    14: (6, 616),
    15: (6, 666),
    16: (6, 719),
    17: (6, 772),
    18: (6, 822),
    19: (6, 873),
    20: (8, 682.5),
    21: (8, 711),
    22: (8, 754),
    23: (8, 797),
    24: (8, 841),
    25: (8, 885),
    26: (8, 916.5),
    27: (8, 948),
}
MCS_INDICES: Final = tuple(sorted(_TABLE_2))
"""The MCS indices semlink supports (2-27 of TS 38.214 Table 5.1.3.1-2)."""
MODULATIONS: Final = {2: "QPSK", 4: "16-QAM", 6: "64-QAM", 8: "256-QAM"}


@dataclass(frozen=True)
class Mcs:
    """One modulation and coding scheme.

    :param index: its index in TS 38.214 Table 5.1.3.1-2.
    :param bits_per_symbol: 2, 4, 6 or 8 (QPSK ... 256-QAM).
    :param code_rate: information bits per coded bit.
    """

    index: int
    bits_per_symbol: int
    code_rate: float

    @property
    def modulation(self) -> str:
        """``QPSK``, ``16-QAM``, ``64-QAM`` or ``256-QAM``."""
        return MODULATIONS[self.bits_per_symbol]

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per QAM symbol."""
        return self.bits_per_symbol * self.code_rate

    def symbols(self, block_bits: np.ndarray) -> np.ndarray:
        """[N] QAM symbols of blocks of ``block_bits`` information bits: ``k / R`` up to whole symbols."""
        return np.ceil(np.asarray(block_bits) / self.code_rate / self.bits_per_symbol).astype(np.int64)

    def coded_bits(self, block_bits: int) -> int:
        """Coded bits of one block of ``block_bits`` information bits (whole symbols)."""
        return int(self.symbols(np.array([block_bits]))[0]) * self.bits_per_symbol


def mcs(index: int) -> Mcs:
    """The MCS of ``index``.

    :raises ValueError: one line naming the index and the allowed range.
    """
    if isinstance(index, bool) or not isinstance(index, int | np.integer) or int(index) not in _TABLE_2:
        raise ValueError(f"mcs={index!r} is not an MCS index; allowed: {MCS_INDICES[0]}..{MCS_INDICES[-1]}")
    bits, rate = _TABLE_2[int(index)]
    return Mcs(int(index), bits, rate / 1024.0)


def all_mcs() -> list[Mcs]:
    """Every supported MCS, lowest index first."""
    return [mcs(i) for i in MCS_INDICES]


@dataclass(frozen=True)
class Blocks:
    """How a batch of packets is cut into code blocks.

    :param count: [N] int64 code blocks per packet.
    :param bits: [N] int64 information bits per block (CRC and filler included).
    """

    count: np.ndarray
    bits: np.ndarray


def code_blocks(sizes_bits: np.ndarray) -> Blocks:
    """The code blocks of packets of the given sizes (see the module docstring).

    :param sizes_bits: [N] int packet sizes in bits.
    :return: blocks per packet and bits per block, both [N].
    """
    total = np.asarray(sizes_bits, dtype=np.int64) + CRC_BITS
    count = -(-total // MAX_BLOCK_BITS)
    per_block = -(-total // count)
    return Blocks(count, -(-per_block // BLOCK_QUANTUM) * BLOCK_QUANTUM)


LIFTING_SIZES: Final = (
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 44,
    48, 52, 56, 60, 64, 72, 80, 88, 96, 104, 112, 120, 128, 144, 160, 176, 192, 208, 224, 240, 256,
    288, 320, 352, 384,
)  # fmt: skip
"""The lifting sizes Zc of 5G LDPC (TS 38.212 Table 5.3.2-1)."""
# Start of redundancy version 0, 1, 2, 3 in the circular buffer, in units of Zc (TS 38.212 Table 5.4.2.1-2).
_RV_START: Final = {1: (0, 17, 33, 56), 2: (0, 13, 25, 43)}
_BUFFER: Final = {1: 66, 2: 50}
_SYSTEMATIC: Final = {1: 22, 2: 10}


def base_graph(block_bits: int, code_rate: float) -> int:
    """5G's base graph (1 or 2) for a block and rate (TS 38.212 §7.2.2, as Sionna chooses it)."""
    if block_bits <= 292 or (block_bits <= 3824 and code_rate <= 0.67) or code_rate <= 0.25:
        return 2
    return 1


@functools.lru_cache(maxsize=1024)
def coverage_bits(block_bits: int, coded_bits: int, code_rate: float, versions: int) -> int:
    """Distinct bits of the circular buffer that the first ``versions`` redundancy versions carry.

    Each version reads ``coded_bits`` bits from its start in the buffer (skipping filler bits),
    wrapping around; versions overlap once they cover the whole buffer, and at high rates before.
    5G's order of versions is 0, 2, 3, 1.

    :param block_bits: information bits of the block. :param coded_bits: bits per transmission.
    :param code_rate: the MCS's rate (decides the base graph). :param versions: 1 .. 4.
    """
    graph = base_graph(block_bits, code_rate)
    kb = 22 if graph == 1 else (10 if block_bits > 640 else 9 if block_bits > 560 else 8 if block_bits > 192 else 6)
    lifting = next(z for z in LIFTING_SIZES if kb * z >= block_bits)
    size = _BUFFER[graph] * lifting
    filler = np.zeros(size, dtype=bool)
    filler[block_bits - 2 * lifting : _SYSTEMATIC[graph] * lifting - 2 * lifting] = True
    usable = np.flatnonzero(~filler)
    covered = np.zeros(size, dtype=bool)
    for version in (0, 2, 3, 1)[:versions]:
        start = _RV_START[graph][version] * lifting
        first = int(np.searchsorted(usable, start))
        covered[usable[(first + np.arange(coded_bits)) % usable.size]] = True
    return int(covered.sum())
