"""Link-level decoding of a batch: every code block through Sionna's chain, every attempt combined.

Blocks of the same MCS and size go through one chain in batches of at most 256 (larger ones made
this CPU thrash on page faults). A block that decoded stays decoded (5G gives each code block its
own CRC); a retransmission resends the whole packet, and the receiver combines the new LLRs of the
blocks it still lacks with what it kept: added to them (``harq: chase``, the same codeword again),
or as the next redundancy version of the codeword (``harq: ir``, incremental redundancy: new
parity bits; after four versions they repeat and add up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from semlink.channel.phy.attempts import Attempts, Outcome
from semlink.channel.phy.chain import REDUNDANCY_VERSIONS, LinkChain, Received, chain_for
from semlink.channel.phy.mcs import mcs
from semlink.channel.phy.radio import RadioChannel

BATCH = 256


@dataclass
class BlockGroup:
    """The blocks of one MCS and size in a batch.

    :param chain: their chain. :param packet: [B] packet of each block. :param index: [B] block index in it.
    :param bits: [B, k] information bits sent. :param symbols: [B, S] symbols sent ([B, V, S] with IR).
    :param llr: [B, n] combined LLRs ([B, V, n] with IR). :param decoded: [B] decoded yet.
    :param wrong: [B, k] bits wrong at the last try.
    """

    chain: LinkChain
    packet: np.ndarray
    index: np.ndarray
    bits: Any = None
    symbols: Any = None
    llr: Any = None
    decoded: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    wrong: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))


class LinkLevelChannel(RadioChannel):
    """A radio model whose attempts are decoded by the real chain (the base of ``awgn``, ``rayleigh``, ``tdl``).

    :param device: torch device for the chain, or ``auto`` (CUDA where there is one).
    """

    device = "cpu"

    @property
    def _incremental(self) -> bool:
        """Whether retransmissions carry new redundancy versions (IR with more than one transmission)."""
        return self.harq == "ir" and self.harq_max_tx > 1

    def set_device(self, device: str) -> None:
        """Resolve ``auto`` to ``cuda`` or ``cpu``."""
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        if not isinstance(device, str) or (device not in ("cpu", "cuda") and not device.startswith("cuda:")):
            raise ValueError(f"{self.name}: device={device!r} must be auto, cpu or cuda")
        self.device = device

    def _attempt_outcomes(self, attempts: Attempts, rng: np.random.Generator) -> Outcome:
        """Send, fade, demap and decode every block; retransmit packets with blocks left, up to ``harq_max_tx``."""
        groups = self._groups(attempts, rng)
        n = attempts.mcs.size
        transmissions = np.zeros(n, dtype=np.int64)
        alive = np.ones(n, dtype=bool)
        snr = 10.0 ** (self.snr_db / 10.0)
        for attempt in range(self.harq_max_tx):
            transmissions[alive] += 1
            for group in groups:
                rows = np.flatnonzero(alive[group.packet] & ~group.decoded)
                for part in np.array_split(rows, max(1, -(-rows.size // BATCH))):
                    if part.size:
                        self._try(group, part, attempts, attempt, snr, rng)
            alive = ~self._packets_ok(groups, n)
            if not alive.any():
                break
        ok = self._packets_ok(groups, n)
        return Outcome(transmissions, ok, self._flips(groups, attempts, ok))

    def _groups(self, attempts: Attempts, rng: np.random.Generator) -> list[BlockGroup]:
        """One group per (MCS, block size), with its bits and symbols drawn and encoded."""
        packet = np.repeat(np.arange(attempts.mcs.size), attempts.blocks.count)
        index = np.concatenate([np.arange(c) for c in attempts.blocks.count.tolist()])
        keys = np.stack([attempts.mcs[packet], attempts.blocks.bits[packet]], axis=1)
        groups = []
        for scheme, bits in sorted({(int(a), int(b)) for a, b in keys.tolist()}):
            where = np.flatnonzero((keys[:, 0] == scheme) & (keys[:, 1] == bits))
            group = BlockGroup(chain_for(mcs(scheme), bits, self.device), packet[where], index[where])
            send = group.chain.send_versions if self._incremental else group.chain.send
            group.bits, group.symbols = send(where.size, rng)
            group.llr = None
            group.decoded = np.zeros(where.size, dtype=bool)
            group.wrong = np.zeros((where.size, bits), dtype=bool)
            groups.append(group)
        return groups

    def _try(
        self,
        group: BlockGroup,
        rows: np.ndarray,
        attempts: Attempts,
        attempt: int,
        snr: float,
        rng: np.random.Generator,
    ) -> None:
        """One transmission of some blocks of a group: fade, add noise, demap, combine, decode."""
        chain = group.chain
        packets = group.packet[rows]
        start = attempts.start_us[packets] + attempt * attempts.spacing_us[packets]
        gains = self.re_gains(start, group.index[rows] * chain.symbols, chain.symbols)
        if self._incremental:
            version = attempt % len(REDUNDANCY_VERSIONS)
            llr = chain.receive(group.symbols[rows, version], np.full(rows.size, snr), gains, rng)
            if group.llr is None:
                group.llr = llr.new_zeros((group.packet.size, len(REDUNDANCY_VERSIONS), llr.shape[1]))
            group.llr[rows, version] += llr
            if attempt == 0:  # version 0 alone is the plain codeword: the (much cheaper) plain decoder
                wrong = chain.decode(Received(group.bits[rows], group.llr[rows, 0]))
            else:
                versions = min(attempt + 1, len(REDUNDANCY_VERSIONS))
                wrong = chain.decode_versions(group.bits[rows], group.llr[rows], versions)
        else:
            llr = chain.receive(group.symbols[rows], np.full(rows.size, snr), gains, rng)
            if self.harq_max_tx > 1:  # keep the LLRs for combining with retransmissions
                if group.llr is None:
                    group.llr = llr.new_zeros((group.packet.size, llr.shape[1]))
                group.llr[rows] += llr
                llr = group.llr[rows]
            wrong = chain.decode(Received(group.bits[rows], llr))
        group.wrong[rows] = wrong
        group.decoded[rows] = ~wrong.any(axis=1)

    @staticmethod
    def _packets_ok(groups: list[BlockGroup], n: int) -> np.ndarray:
        """[N] whether every block of each packet has decoded."""
        missing = np.zeros(n, dtype=np.int64)
        for group in groups:
            np.add.at(missing, group.packet, (~group.decoded).astype(np.int64))
        return missing == 0

    @staticmethod
    def _flips(groups: list[BlockGroup], attempts: Attempts, ok: np.ndarray) -> dict[int, np.ndarray]:
        """Bit positions (within the packet) the decoder got wrong, for each failed packet."""
        parts: dict[int, list[np.ndarray]] = {}
        for group in groups:
            k = group.chain.block_bits
            for row in np.flatnonzero(~ok[group.packet]).tolist():
                packet = int(group.packet[row])
                positions = np.flatnonzero(group.wrong[row]) + int(group.index[row]) * k
                parts.setdefault(packet, []).append(positions[positions < attempts.sizes_bits[packet]])
        return {p: np.sort(np.concatenate(v)) for p, v in parts.items()}
