"""``tdl``: the radio at link level over a 3GPP TDL channel (frequency-selective, time-varying)."""

from __future__ import annotations

from typing import Any

from semlink.channel.base import CHANNELS
from semlink.channel.phy.fading import tdl_profile
from semlink.channel.phy.linklevel import LinkLevelChannel


@CHANNELS.register("tdl")
class TdlChannel(LinkLevelChannel):
    """TR 38.901 TDL-A ... TDL-E with the Doppler of ``speed_kmh``; each resource element gets the
    channel's frequency response at its subcarrier and OFDM symbol.

    :param profile: ``A`` ... ``E`` (D and E have a line-of-sight tap).
    :param delay_spread_ns: scales the profile's normalised delays (TR 38.901 Table 7.7.3-1: 10-1000 ns).
    :param speed_kmh: relative speed (default 30 km/h).
    :param device: ``auto``, ``cpu`` or ``cuda`` for Sionna's blocks.
    :param radio: the other parameters of :class:`~semlink.channel.phy.radio.RadioChannel`.
    """

    name = "tdl"

    def __init__(
        self,
        profile: str = "A",
        delay_spread_ns: float = 100.0,
        speed_kmh: float = 30.0,
        device: str = "auto",
        **radio: Any,
    ) -> None:
        self.profile = tdl_profile(profile, delay_spread_ns)
        super().__init__(speed_kmh=speed_kmh, **radio)
        self.set_device(device)
