"""``awgn``: the radio at link level over additive white Gaussian noise (see :mod:`semlink.channel.phy.radio`)."""

from __future__ import annotations

from semlink.channel.base import CHANNELS
from semlink.channel.phy.linklevel import LinkLevelChannel


@CHANNELS.register("awgn")
class AwgnChannel(LinkLevelChannel):
    """Every packet 5G-LDPC coded, QAM mapped, hit by AWGN at ``snr_db`` (Es/N0), demapped and decoded.

    :param device: ``auto``, ``cpu`` or ``cuda`` for Sionna's blocks.
    :param radio: every parameter of :class:`~semlink.channel.phy.radio.RadioChannel`.
    """

    name = "awgn"

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
            deliver_corrupt=deliver_corrupt,
            harq=harq,
        )
        self.set_device(device)
