"""``tdl``: the radio at link level over a 3GPP TDL channel (frequency-selective, time-varying)."""

from __future__ import annotations

from semlink.channel.base import CHANNELS
from semlink.channel.phy.fading import tdl_profile
from semlink.channel.phy.linklevel import LinkLevelChannel


@CHANNELS.register("tdl")
class TdlChannel(LinkLevelChannel):
    """TR 38.901 TDL-A ... TDL-E with the Doppler of ``speed_kmh``; each resource element gets the
    channel's frequency response at its subcarrier and OFDM symbol.

    :param profile: ``A`` ... ``E`` (D and E have a line-of-sight tap).
    :param delay_spread_ns: scales the profile's normalised delays (TR 38.901 Table 7.7.3-1: 10-1000 ns).
    :param device: ``auto``, ``cpu`` or ``cuda`` for Sionna's blocks.
    :param radio: every parameter of :class:`~semlink.channel.phy.radio.RadioChannel`.
    """

    name = "tdl"

    def __init__(
        self,
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
        speed_kmh: float = 30.0,
        deliver_corrupt: bool = False,
        harq: str = "ir",
        device: str = "auto",
    ) -> None:
        self.profile = tdl_profile(profile, delay_spread_ns)
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
            deliver_corrupt,
            harq=harq,
        )
        self.set_device(device)
