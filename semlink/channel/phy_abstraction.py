"""``phy``: the radio at the abstraction level, one vectorised BLER draw per packet and attempt.

Each attempt's SNR is sampled over the resource elements the packet occupies (up to 16 OFDM
symbols, and 16 subcarriers on a TDL channel), chase combining adds the samples of the attempts so
far, EESM turns them into one effective SNR, and semlink's BLER tables (or Sionna SYS's for an
MCS semlink has none of) give the code-block error rate there. The packet decodes with
probability ``(1 - BLER)^C`` over its ``C`` blocks, one uniform draw per attempt. Its fates agree
with the link-level models (``awgn``, ``rayleigh``, ``tdl``) within the tables' accuracy, far
faster; a failed packet's bit errors are not simulated, so ``deliver_corrupt`` is refused here.
"""

from __future__ import annotations

import numpy as np

from semlink.channel.base import CHANNELS
from semlink.channel.phy.fading import FLAT, TapProfile, tdl_profile
from semlink.channel.phy.radio import Attempts, Outcome, RadioChannel

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
    :param radio: every parameter of :class:`RadioChannel` (``snr_db``, ``mcs``, ``harq_max_tx``, ...).
    """

    name = "phy"

    def __init__(
        self,
        fading: str = "awgn",
        profile: str = "A",
        delay_spread_ns: float = 100.0,
        snr_db: float = 10.0,
        mcs: object = 9,
        target_bler: float = 0.1,
        harq_max_tx: int = 1,
        harq_rtt_ms: float = 1.0,
        csi_delay_ms: float = 1.0,
        bandwidth_mhz: float = 20.0,
        scs_khz: int = 30,
        prbs: int | None = None,
        carrier_ghz: float = 5.9,
        speed_kmh: float = 0.0,
        deliver_corrupt: bool = False,
    ) -> None:
        if deliver_corrupt:
            raise ValueError("phy: deliver_corrupt needs the decoder's real bit errors; use awgn, rayleigh or tdl")
        self.profile = fading_profile(fading, profile, delay_spread_ns)
        self.fading = fading
        super().__init__(
            snr_db,
            mcs,
            target_bler,
            harq_max_tx,
            harq_rtt_ms,
            csi_delay_ms,
            bandwidth_mhz,
            scs_khz,
            prbs,
            carrier_ghz,
            speed_kmh,
        )

    def _attempt_outcomes(self, attempts: Attempts, rng: np.random.Generator) -> Outcome:
        """Chase-combined attempts, one BLER draw each, until success or ``harq_max_tx``."""
        n = attempts.mcs.size
        symbols = attempts.block_symbols * attempts.blocks.count
        transmissions = np.zeros(n, dtype=np.int64)
        ok = np.zeros(n, dtype=bool)
        alive = np.arange(n)
        combined = np.zeros((0, 1))
        decoded = np.zeros(n, dtype=bool)
        for attempt in range(self.harq_max_tx):
            times = attempts.start_us[alive] + attempt * self.harq_rtt_us
            samples = self.snr_samples(times, symbols[alive])
            combined = samples if attempt == 0 else combined[~decoded] + samples
            snr_db = self.effective_snr_db(combined, attempts.mcs[alive])
            blocks = type(attempts.blocks)(attempts.blocks.count[alive], attempts.blocks.bits[alive])
            decoded = rng.random(alive.size) < self.packet_success(attempts.mcs[alive], blocks, snr_db)
            transmissions[alive] += 1
            ok[alive[decoded]] = True
            alive = alive[~decoded]
            if not alive.size:
                break
        return Outcome(transmissions, ok, {})
