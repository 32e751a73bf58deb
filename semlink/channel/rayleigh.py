"""``rayleigh``: the radio at link level over flat Rayleigh fading, correlated in time by Clarke's model."""

from __future__ import annotations

from semlink.channel.base import CHANNELS
from semlink.channel.phy.fading import FLAT
from semlink.channel.phy.linklevel import LinkLevelChannel


@CHANNELS.register("rayleigh")
class RayleighChannel(LinkLevelChannel):
    """Flat fading with the Doppler of ``speed_kmh`` on ``carrier_ghz``; the gain changes from one OFDM
    symbol to the next, and at ``speed_kmh: 0`` stays at one draw for the whole point.

    :param device: ``auto``, ``cpu`` or ``cuda`` for Sionna's blocks.
    :param radio: every parameter of :class:`~semlink.channel.phy.radio.RadioChannel`.
    """

    name = "rayleigh"
    profile = FLAT

    def __init__(
        self,
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
