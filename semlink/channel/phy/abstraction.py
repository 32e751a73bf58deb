"""``phy``: the radio at the abstraction level, one vectorised BLER draw per packet and attempt.

Each attempt's SNR is sampled over the resource elements the packet occupies (up to 16 OFDM
symbols, and 16 subcarriers on a TDL channel), the attempts so far are combined into one effective
SNR (:class:`Combiner`: chase or incremental redundancy), and semlink's BLER tables (or Sionna SYS's for an
MCS semlink has none of) give the code-block error rate there. The packet decodes with
probability ``(1 - BLER)^C`` over its ``C`` blocks, one uniform draw per attempt. Its fates agree
with the link-level models (``awgn``, ``rayleigh``, ``tdl``) within the tables' accuracy, far
faster; a failed packet's bit errors are not simulated, so ``deliver_corrupt`` is refused here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semlink.channel.base import CHANNELS
from semlink.channel.phy.attempts import Attempts, Outcome, SnrSamples
from semlink.channel.phy.fading import FLAT, TapProfile, tdl_profile
from semlink.channel.phy.mcs import coverage_bits, mcs
from semlink.channel.phy.radio import RadioChannel

FADINGS = ("awgn", "rayleigh", "tdl")


def fading_profile(fading: str, profile: str, delay_spread_ns: float) -> TapProfile | None:
    """The tap profile of a fading name (None for ``awgn``).

    :raises ValueError: for an unknown fading name.
    """
    if fading == "awgn":
        return None
    if fading == "rayleigh":
        return FLAT
    if fading == "tdl":
        return tdl_profile(profile, delay_spread_ns)
    raise ValueError(f"phy: fading={fading!r} is not known; choose one of {', '.join(FADINGS)}")


@CHANNELS.register("phy")
class PhyAbstraction(RadioChannel):
    """The radio by BLER tables (see the module docstring and :class:`RadioChannel`).

    :param fading: ``awgn``, ``rayleigh`` (flat, Clarke-correlated) or ``tdl``.
    :param profile: the TDL profile ``A`` ... ``E`` (with ``fading: tdl``).
    :param delay_spread_ns: the TDL delay spread.
    :param deliver_corrupt: refused here (a failed packet's bit errors are not simulated).
    :param radio: every other parameter of :class:`RadioChannel` (``snr_db``, ``mcs``, ``harq_max_tx``, ...).
    """

    name = "phy"

    def __init__(
        self,
        fading: str = "awgn",
        profile: str = "A",
        delay_spread_ns: float = 100.0,
        deliver_corrupt: bool = False,
        **radio: Any,
    ) -> None:
        if deliver_corrupt:
            raise ValueError("phy: deliver_corrupt needs the decoder's real bit errors; use awgn, rayleigh or tdl")
        self.profile = fading_profile(fading, profile, delay_spread_ns)
        self.fading = fading
        super().__init__(**radio)

    def _attempt_outcomes(self, attempts: Attempts, rng: np.random.Generator) -> Outcome:
        """Combined attempts, one BLER draw each, until success or ``harq_max_tx``."""
        n = attempts.mcs.size
        symbols = attempts.block_symbols * attempts.blocks.count
        transmissions = np.zeros(n, dtype=np.int64)
        ok = np.zeros(n, dtype=bool)
        alive = np.arange(n)
        combiner = Combiner(self, attempts.mcs, attempts.blocks.bits)
        for attempt in range(self.harq_max_tx):
            times = attempts.start_us[alive] + attempt * attempts.spacing_us[alive]
            snr_db = combiner.add(alive, self.snr_samples(times, symbols[alive]))
            blocks = type(attempts.blocks)(attempts.blocks.count[alive], attempts.blocks.bits[alive])
            decoded = rng.random(alive.size) < self.packet_success(attempts.mcs[alive], blocks, snr_db)
            transmissions[alive] += 1
            ok[alive[decoded]] = True
            combiner.keep(~decoded)
            alive = alive[~decoded]
            if not alive.size:
                break
        return Outcome(transmissions, ok, {})


class Combiner:
    """What the receiver holds of the attempts so far, as one effective SNR per packet.

    Chase combining adds the SNRs of each resource element over the attempts, then takes their
    EESM. Incremental redundancy after ``j`` attempts holds the first ``v = min(j, 4)`` redundancy
    versions, which cover ``D`` distinct bits of the code's circular buffer
    (:func:`~semlink.channel.phy.mcs.coverage_bits`): a code of rate ``R_v = k / D``. The attempts'
    information (each attempt's EESM SNR gives ``min(log2(1 + SNR), bits per symbol)`` bits per
    symbol) spread over those ``D`` bits gives one equal-information SNR, and the BLER there is the
    MCS's own waterfall shifted by how much lower the same modulation at rate ``R_v`` reaches
    BLER 10 % than at rate ``R`` (:meth:`~semlink.channel.phy.tables.BlerModel.threshold_db`).

    :param radio: the model (for EESM). :param schemes: [N] MCS per packet.
    :param block_bits: [N] code-block size per packet.
    """

    def __init__(self, radio: PhyAbstraction, schemes: np.ndarray, block_bits: np.ndarray) -> None:
        self.radio, self.schemes, self.block_bits = radio, schemes, block_bits
        self.held: np.ndarray = np.zeros((0, 1))
        self.chased: SnrSamples | None = None
        self.attempts = 0

    def add(self, rows: np.ndarray, samples: SnrSamples) -> np.ndarray:
        """Add one attempt of packets ``rows`` (the same ones that :meth:`keep` left); [len(rows)] SNR in dB."""
        schemes = self.schemes[rows]
        first = self.attempts == 0
        self.attempts += 1
        if self.radio.harq == "chase":
            self.chased = samples if self.chased is None else self.chased.plus(samples)
            return self.radio.effective_snr_db(self.chased, schemes)
        snr_db = self.radio.effective_snr_db(samples, schemes)
        if first:
            self.held = snr_db[:, None]
            return snr_db
        if self.attempts == 2:  # the first attempt was held as an SNR: make it information
            self.held = self.information(self.held[:, 0], schemes)[:, None]
        self.held = self.held + self.information(snr_db, schemes)[:, None]
        return self.incremental_snr_db(rows, schemes)

    @staticmethod
    def information(snr_db: np.ndarray, schemes: np.ndarray) -> np.ndarray:
        """[N] bits per symbol an attempt carries: ``min(log2(1 + SNR), bits per symbol)``."""
        limit = np.array([mcs(int(m)).bits_per_symbol for m in schemes.tolist()], dtype=np.float64)
        return np.minimum(np.log2(1.0 + 10.0 ** (snr_db / 10.0)), limit)

    def incremental_snr_db(self, rows: np.ndarray, schemes: np.ndarray) -> np.ndarray:
        """[N] the SNR on the MCS's own waterfall that the versions received so far amount to."""
        versions = min(self.attempts, 4)
        out = np.empty(rows.size)
        bits = self.block_bits[rows]
        for index in np.unique(schemes).tolist():
            where = np.flatnonzero(schemes == index)
            scheme = mcs(index)
            coded = np.array([scheme.coded_bits(int(k)) for k in bits[where].tolist()])
            distinct = np.array(
                [
                    coverage_bits(int(k), int(n), scheme.code_rate, versions)
                    for k, n in zip(bits[where], coded, strict=True)
                ]
            )
            per_symbol = np.minimum(self.held[where, 0] * coded / distinct, scheme.bits_per_symbol - 1e-9)
            equal_db = 10.0 * np.log10(np.maximum(2.0**per_symbol - 1.0, 1e-30))
            tables, m = self.radio.tables, scheme.bits_per_symbol
            shift = tables.threshold_db(m, np.full(where.size, scheme.code_rate), bits[where]) - tables.threshold_db(
                m, bits[where] / distinct, bits[where]
            )
            out[where] = equal_db + shift
        return out

    def keep(self, still: np.ndarray) -> None:
        """Keep what is held for the packets still undecoded (a mask over the last rows added)."""
        if self.chased is not None:
            self.chased = self.chased.take(still)
        else:
            self.held = self.held[still]
