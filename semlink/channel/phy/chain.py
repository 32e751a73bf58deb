"""The link-level chain: Sionna's 5G LDPC code, QAM mapping, a channel, APP demapping and BP decoding.

Every random draw (information bits, noise) comes from the numpy generator passed in, so the
chain is deterministic under the point's seed; Sionna's blocks themselves draw nothing. Sionna
is imported when the first chain is built, never at import of this module.

Fading enters as one complex gain per QAM symbol; the receiver knows it (perfect channel
estimation), equalises ``y / h`` and demaps with the noise variance ``N0 / |h|^2``. The noise is
set by the symbol SNR ``Es/N0`` (Sionna's constellations have unit energy, so ``N0 = 1 / snr``).
A block is in error when any decoded information bit differs; the packet's CRC24A catches such
a block except with probability 2^-24, which is neglected.

HARQ with incremental redundancy uses Sionna's 5G rate matching: :meth:`LinkChain.send_versions`
gives the codeword of each redundancy version (5G's order 0, 2, 3, 1), and
:meth:`LinkChain.decode_versions` decodes from the LLRs of the versions received so far.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from semlink.channel.phy.mcs import Mcs

DEFAULT_ITERATIONS = 20
"""Belief-propagation iterations of the LDPC decoder."""
REDUNDANCY_VERSIONS = (0, 2, 3, 1)
"""5G's order of redundancy versions for incremental redundancy (TS 38.321 / 38.212)."""


def load_sionna() -> Any:
    """Import torch and Sionna's PHY blocks (5-10 s the first time), with a one-line error if absent.

    :raises ValueError: if ``sionna-no-rt`` is not installed (one line, with the command that installs it).
    """
    try:
        import sionna.phy  # noqa: F401  (import for its side effect: the blocks below resolve)
        from sionna.phy import fec, mapping
    except ImportError as error:
        raise ValueError(
            f"the link-level channel needs Sionna ({error}); install it with: pip install 'sionna-no-rt==2.2.*'"
        ) from None
    return fec, mapping


@dataclass
class Received:
    """What the receiver holds of a batch of blocks after one or more transmissions.

    :param bits: [B, k] float32 information bits that were sent (0/1).
    :param llr: [B, n] float32 LLRs summed over the transmissions so far (chase combining).
    """

    bits: Any
    llr: Any


class LinkChain:
    """The coded chain for blocks of one size at one MCS (build once, run many batches).

    :param scheme: the modulation and coding scheme.
    :param block_bits: information bits per block (CRC and filler included), >= 32.
    :param iterations: BP iterations.
    :param device: torch device (``cpu`` or ``cuda``).
    """

    def __init__(self, scheme: Mcs, block_bits: int, iterations: int = DEFAULT_ITERATIONS, device: str = "cpu") -> None:
        import torch

        fec, mapping = load_sionna()
        self.scheme, self.block_bits, self.device = scheme, int(block_bits), device
        self.coded_bits = scheme.coded_bits(self.block_bits)
        self.symbols = self.coded_bits // scheme.bits_per_symbol
        m = scheme.bits_per_symbol
        self._torch = torch
        self._encoder = fec.ldpc.LDPC5GEncoder(self.block_bits, self.coded_bits, num_bits_per_symbol=m, device=device)
        self._decoder = fec.ldpc.LDPC5GDecoder(self._encoder, num_iter=iterations, hard_out=True, device=device)
        self._fec, self._iterations = fec, iterations
        self._ir_decoder: Any = None
        self._mapper = mapping.Mapper("qam", m, device=device)
        self._demapper = mapping.Demapper("app", "qam", m, device=device)

    def _bits(self, count: int, rng: np.random.Generator) -> Any:
        """[count, k] float32 random information bits on the chain's device."""
        drawn = rng.integers(0, 2, (count, self.block_bits), dtype=np.int8).astype(np.float32)
        return self._torch.from_numpy(drawn).to(self.device)

    def send(self, count: int, rng: np.random.Generator) -> tuple[Any, Any]:
        """Random information bits and their QAM symbols.

        :param count: blocks B.
        :param rng: the source of the bits.
        :return: bits [B, k] float32 and symbols [B, S] complex64 (torch tensors).
        """
        bits = self._bits(count, rng)
        with self._torch.no_grad():
            return bits, self._mapper(self._encoder(bits))

    def send_versions(self, count: int, rng: np.random.Generator) -> tuple[Any, Any]:
        """Random information bits and the QAM symbols of every redundancy version of their codewords.

        :return: bits [B, k] float32 and symbols [B, V, S] complex64, V = len(:data:`REDUNDANCY_VERSIONS`).
        """
        bits = self._bits(count, rng)
        with self._torch.no_grad():
            return bits, self._mapper(self._encoder(bits, rv=list(REDUNDANCY_VERSIONS)))

    def decode_versions(self, bits: Any, llr: Any, versions: int) -> np.ndarray:
        """Decode from the LLRs of the first ``versions`` redundancy versions.

        :param bits: [B, k] bits sent. :param llr: [B, V, n] LLRs per version (chase-combined within one).
        :return: [B, k] bool: which information bits are wrong.
        """
        if self._ir_decoder is None:
            self._ir_decoder = self._fec.ldpc.LDPC5GDecoder(
                self._encoder, num_iter=self._iterations, hard_out=True, harq_mode=True, device=self.device
            )
        with self._torch.no_grad():
            estimate = self._ir_decoder(llr[:, :versions], rv=list(REDUNDANCY_VERSIONS[:versions]))
        return (estimate != bits).cpu().numpy()

    def receive(self, symbols: Any, snr: np.ndarray, gains: np.ndarray | None, rng: np.random.Generator) -> Any:
        """LLRs of one transmission of each block.

        :param symbols: [B, S] complex64 symbols sent.
        :param snr: [B] linear Es/N0 of each block.
        :param gains: [B, S] complex gains per symbol, or None (AWGN).
        :param rng: the source of the noise.
        :return: [B, n] float32 LLRs.
        """
        torch = self._torch
        shape = tuple(symbols.shape)
        no = (1.0 / np.asarray(snr, dtype=np.float64))[:, None]
        noise = rng.standard_normal((*shape, 2)).astype(np.float32)
        noise_c = torch.from_numpy((noise[..., 0] + 1j * noise[..., 1]).astype(np.complex64)).to(self.device)
        std = torch.from_numpy(np.sqrt(no / 2.0).astype(np.float32)).to(self.device)
        with torch.no_grad():
            if gains is None:
                y, var = symbols + std * noise_c, torch.from_numpy(no.astype(np.float32)).to(self.device)
                var = var.expand(shape)
            else:
                h = torch.from_numpy(np.asarray(gains, dtype=np.complex64)).to(self.device)
                power = torch.clamp(h.abs() ** 2, min=1e-12)
                y = (h * symbols + std * noise_c) / h
                var = torch.from_numpy(no.astype(np.float32)).to(self.device) / power
            return self._demapper(y, var)

    def decode(self, received: Received) -> np.ndarray:
        """Decode the combined LLRs.

        :return: [B, k] bool: which information bits are wrong (all False for a good block).
        """
        with self._torch.no_grad():
            estimate = self._decoder(received.llr)
        return (estimate != received.bits).cpu().numpy()


@functools.lru_cache(maxsize=64)
def chain_for(scheme: Mcs, block_bits: int, device: str = "cpu") -> LinkChain:
    """A cached :class:`LinkChain` (building one costs a few hundred ms)."""
    return LinkChain(scheme, block_bits, device=device)


def uncoded_bit_errors(bits_per_symbol: int, snr: float, gains: np.ndarray | None, rng: np.random.Generator) -> float:
    """Bit error rate of uncoded Gray QAM with hard decisions (``semlink channel curve --coding none``).

    :param bits_per_symbol: 2, 4, 6 or 8 (QPSK ... 256-QAM).
    :param snr: linear Es/N0.
    :param gains: [S] complex gains of the symbols sent, or None (AWGN); their count sets the sample size.
    :param rng: the source of bits and noise.
    :return: the fraction of bits in error.
    """
    import torch

    _, mapping = load_sionna()
    count = gains.size if gains is not None else 200_000
    bits = torch.from_numpy(rng.integers(0, 2, (1, count * bits_per_symbol), dtype=np.int8).astype(np.float32))
    noise = rng.standard_normal((1, count, 2)).astype(np.float32) * np.float32(np.sqrt(0.5 / snr))
    with torch.no_grad():
        x = mapping.Mapper("qam", bits_per_symbol)(bits)
        n = torch.from_numpy((noise[..., 0] + 1j * noise[..., 1]).astype(np.complex64))
        h = torch.ones_like(x) if gains is None else torch.from_numpy(gains.astype(np.complex64)[None, :])
        y = (h * x + n) / h
        var = torch.full(y.shape, 1.0 / snr) / torch.clamp(h.abs() ** 2, min=1e-12)
        llr = mapping.Demapper("maxlog", "qam", bits_per_symbol, hard_out=True)(y, var)
    return float((llr != bits).float().mean())
