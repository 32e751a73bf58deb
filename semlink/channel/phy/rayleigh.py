"""``rayleigh``: the radio at link level over flat Rayleigh fading, correlated in time by Clarke's model."""

from __future__ import annotations

from typing import Any

from semlink.channel.base import CHANNELS
from semlink.channel.phy.fading import FLAT
from semlink.channel.phy.linklevel import LinkLevelChannel


@CHANNELS.register("rayleigh")
class RayleighChannel(LinkLevelChannel):
    """Flat fading with the Doppler of ``speed_kmh`` on ``carrier_ghz``; the gain changes from one OFDM
    symbol to the next, and at ``speed_kmh: 0`` stays at one draw for the whole point.

    :param speed_kmh: relative speed (default 30 km/h).
    :param device: ``auto``, ``cpu`` or ``cuda`` for Sionna's blocks.
    :param radio: the other parameters of :class:`~semlink.channel.phy.radio.RadioChannel`.
    """

    name = "rayleigh"
    profile = FLAT

    def __init__(self, speed_kmh: float = 30.0, device: str = "auto", **radio: Any) -> None:
        super().__init__(speed_kmh=speed_kmh, **radio)
        self.set_device(device)
