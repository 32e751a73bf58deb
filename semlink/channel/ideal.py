"""The ideal channel: every packet arrives intact."""

from __future__ import annotations

import numpy as np

from semlink.channel.base import CHANNELS, DELIVERED, FATE_DTYPE, ChannelModel


@CHANNELS.register("ideal")
class IdealChannel(ChannelModel):
    """Delivers everything; draws nothing from the generator."""

    name = "ideal"
    transparent = True

    def _fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """[N] int8 :data:`DELIVERED`."""
        return np.full(sizes_bits.size, DELIVERED, dtype=FATE_DTYPE)
