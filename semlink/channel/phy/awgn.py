"""``awgn``: the radio at link level over additive white Gaussian noise (see :mod:`semlink.channel.phy.radio`)."""

from __future__ import annotations

from typing import Any

from semlink.channel.base import CHANNELS
from semlink.channel.phy.linklevel import LinkLevelChannel


@CHANNELS.register("awgn")
class AwgnChannel(LinkLevelChannel):
    """Every packet 5G-LDPC coded, QAM mapped, hit by AWGN at ``snr_db`` (Es/N0), demapped and decoded.

    :param device: ``auto``, ``cpu`` or ``cuda`` for Sionna's blocks.
    :param radio: the parameters of :class:`~semlink.channel.phy.radio.RadioChannel` (``snr_db``,
        ``mcs``, ``harq_max_tx``, ...), except the fading's ``carrier_ghz`` and ``speed_kmh``.
    """

    name = "awgn"
    refused_parameters = ("carrier_ghz", "speed_kmh")

    def __init__(self, device: str = "auto", **radio: Any) -> None:
        super().__init__(**radio)
        self.set_device(device)
