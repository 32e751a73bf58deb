"""Independent erasures: each packet is lost with the same probability (netem ``loss random``)."""

from __future__ import annotations

import numpy as np

from semlink.channel.base import CHANNELS, DELIVERED, ERASED, FATE_DTYPE, ChannelModel, check_probability


@CHANNELS.register("bernoulli")
class BernoulliChannel(ChannelModel):
    """IID packet erasure.

    One uniform draw per packet whatever ``loss`` is, so the same generator state gives nested
    loss patterns across a sweep of ``loss`` (common random numbers).

    :param loss: probability that a packet is erased, in [0, 1].
    """

    name = "bernoulli"

    def __init__(self, loss: float = 0.0) -> None:
        self.loss = check_probability(self.name, "loss", loss)

    def _fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """[N] int8: :data:`ERASED` with probability ``loss``, else :data:`DELIVERED`."""
        lost = rng.random(sizes_bits.size) < self.loss
        return np.where(lost, ERASED, DELIVERED).astype(FATE_DTYPE)
