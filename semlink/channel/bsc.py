"""Bit errors: a binary symmetric channel under each packet.

Every bit flips independently with probability ``ber``, so a packet of ``b`` bits is hit with
probability ``1 - (1 - ber) ** b`` (computed as ``-expm1(b * log1p(-ber))``, accurate for tiny
``ber``). A hit packet is :data:`CORRUPTED`: the receiver's CRC drops it, unless
``deliver_corrupt`` is set, when :meth:`BinarySymmetricChannel.corrupt` gives its damaged bytes.
"""

from __future__ import annotations

import math

import numpy as np

from semlink.channel.base import (
    CHANNELS,
    CORRUPTED,
    DELIVERED,
    FATE_DTYPE,
    ChannelModel,
    check_flag,
    check_probability,
)


def _first_flip(nbits: int, ber: float, rng: np.random.Generator) -> int:
    """Index of the first flipped bit given that at least one of ``nbits`` flips.

    Inverse-CDF draw of the geometric distribution truncated to ``[0, nbits)``:
    ``P(J = j) = (1 - ber)^j ber / (1 - (1 - ber)^nbits)``.
    """
    if ber >= 1.0:
        return 0
    log_keep = math.log1p(-ber)
    any_flip = -math.expm1(nbits * log_keep)
    first = math.floor(math.log1p(-rng.random() * any_flip) / log_keep)
    return min(first, nbits - 1)


def flip_positions(nbits: int, ber: float, rng: np.random.Generator) -> np.ndarray:
    """Bit positions flipped by iid flips of probability ``ber``, conditioned on at least one flip.

    The first flip is drawn from its conditional (truncated geometric) distribution; each bit after
    it flips independently with probability ``ber`` (a binomial count, then distinct positions),
    which together is exactly the conditioned iid pattern.

    :param nbits: number of bits, >= 1.
    :param ber: flip probability, in (0, 1].
    :param rng: the source of every draw.
    :return: [K] int64 distinct positions, K >= 1, the first one smallest.
    """
    first = _first_flip(nbits, ber, rng)
    rest = nbits - first - 1
    count = int(rng.binomial(rest, ber)) if rest > 0 else 0
    others = first + 1 + rng.choice(rest, size=count, replace=False) if count else np.zeros(0, np.int64)
    return np.concatenate(([first], others)).astype(np.int64)


@CHANNELS.register("bsc")
class BinarySymmetricChannel(ChannelModel):
    """IID bit errors of probability ``ber`` under every packet.

    One uniform is drawn per packet whatever ``ber`` is (common random numbers across a sweep).

    :param ber: bit error rate, in [0, 1].
    :param deliver_corrupt: hand damaged packets on (True) or let the CRC erase them (False).
    """

    name = "bsc"

    def __init__(self, ber: float = 0.0, deliver_corrupt: bool = False) -> None:
        self.ber = check_probability(self.name, "ber", ber)
        self.deliver_corrupt = check_flag(self.name, "deliver_corrupt", deliver_corrupt)

    def packet_error_rate(self, sizes_bits: np.ndarray) -> np.ndarray:
        """Probability that a packet has at least one bit error.

        :param sizes_bits: [N] int sizes in bits.
        :return: [N] float ``1 - (1 - ber) ** sizes_bits``.
        """
        bits = np.asarray(sizes_bits, dtype=np.float64)
        if self.ber >= 1.0:
            return (bits > 0).astype(np.float64)
        return -np.expm1(bits * math.log1p(-self.ber))

    def _fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """[N] int8: :data:`CORRUPTED` with the packet error rate of each size, else :data:`DELIVERED`."""
        hit = rng.random(sizes_bits.size) < self.packet_error_rate(sizes_bits)
        return np.where(hit, CORRUPTED, DELIVERED).astype(FATE_DTYPE)

    def corrupt(self, payload: bytes, rng: np.random.Generator) -> bytes:
        """``payload`` with at least one bit flipped (see :func:`flip_positions`).

        Bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8`` (most significant first). An empty payload,
        or ``ber = 0`` (a packet that cannot be CORRUPTED), comes back unchanged.

        :param payload: the bytes that were sent.
        :param rng: the source of every draw.
        :return: the damaged bytes, as long as ``payload``.
        """
        nbits = 8 * len(payload)
        if nbits == 0 or self.ber == 0.0:
            return payload
        positions = flip_positions(nbits, self.ber, rng)
        data = np.frombuffer(payload, dtype=np.uint8).copy()
        masks = np.left_shift(1, 7 - (positions & 7)).astype(np.uint8)
        np.bitwise_xor.at(data, positions >> 3, masks)
        return data.tobytes()
