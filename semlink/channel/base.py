"""The channel-model interface: a fate for every packet of a batch, and the registry of models.

A model sees only packet sizes, never payloads, so it knows nothing of codecs. Fates are
``int8`` codes: :data:`DELIVERED`, :data:`ERASED` or :data:`CORRUPTED`. A corrupted packet is
an erasure once the receiver's CRC check drops it, unless the model's ``deliver_corrupt`` is
set; then :meth:`ChannelModel.corrupt` gives the damaged bytes that are handed on.

Parameter checks raise ``ValueError`` with one line naming the model, the parameter and what is
allowed (``bernoulli: loss=1.5 must be in [0, 1]``); :func:`build_channel` does the same for
unknown, missing and misspelt parameter names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from semlink.registry import Registry, UnknownComponentError
from semlink.settings import check_names, check_number, settings_of

DELIVERED: Final = 0
"""Fate of a packet that arrives intact."""
ERASED: Final = 1
"""Fate of a packet that never arrives."""
CORRUPTED: Final = 2
"""Fate of a packet that arrives with bit errors (dropped by the CRC unless ``deliver_corrupt``)."""
FATE_DTYPE: Final = np.int8
"""The dtype of every fate array."""


@dataclass(frozen=True)
class PacketBatch:
    """What a channel model may know of a frame's packets (never their payloads).

    :param sizes_bits: [N] int64 sizes in bits, in sending order.
    :param send_us: [N] int64 times the packets are handed to the channel, in microseconds.
    :param streams: the stream each packet carries (``ssm``, ``vq``, ``image``, ...), for per-stream settings.
    """

    sizes_bits: np.ndarray
    send_us: np.ndarray
    streams: tuple[str, ...]

    @classmethod
    def of_sizes(cls, sizes_bits: np.ndarray) -> PacketBatch:
        """A batch known only by its sizes: all sent at time 0, of an unnamed stream."""
        sizes = np.asarray(sizes_bits, dtype=np.int64)
        return cls(sizes, np.zeros(sizes.shape, dtype=np.int64), ("",) * sizes.size)


@dataclass(frozen=True)
class Transmission:
    """What became of a batch of packets.

    :param fates: [N] int8 fates.
    :param done_us: [N] int64 times each packet left the model (a radio's airtime, retransmissions
        and queueing included), or None: at its send time.
    :param flips: packet index -> bit positions (of the whole packet, most significant bit of byte 0
        first) that arrive flipped, for CORRUPTED packets whose damage the model knows; others are
        damaged by :meth:`ChannelModel.corrupt`.
    """

    fates: np.ndarray
    done_us: np.ndarray | None = None
    flips: dict[int, np.ndarray] = field(default_factory=dict)


class ChannelModel(ABC):
    """Base of every packet-level channel model.

    Subclasses implement :meth:`_fates`; stateful ones also :meth:`reset`. State (a Markov
    chain's state, a position in a trace) carries across calls of :meth:`fates`, i.e. across
    frames, until :meth:`reset`. Every random draw comes from the generator passed in.
    """

    name: str = ""
    files: tuple[str, ...] = ()
    """Parameters whose value names a file the model reads (checked on disk before anything loads)."""
    deliver_corrupt: bool = False
    """Whether CORRUPTED packets are handed on with their damage (else the CRC makes them erasures)."""
    transparent: bool = False
    """Whether every packet is delivered once, unchanged, at its send time, with nothing drawn and
    nothing counted in :meth:`stats`: the channel node then forwards a point's packets without
    reading past their first bytes (see :meth:`semlink.channel.node.ChannelStage.process`)."""

    def reset(self) -> None:  # noqa: B027  (a no-op by design: stateless models need no reset)
        """Put the state back to its initial value (called at the start of every sweep point)."""

    def fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The fate of each packet of a batch sent in this order.

        :param sizes_bits: [N] int sizes of the packets in bits, in sending order.
        :param rng: the source of every draw.
        :return: [N] int8 fates (:data:`DELIVERED`, :data:`ERASED`, :data:`CORRUPTED`).
        :raises ValueError: if ``sizes_bits`` is not one-dimensional or holds a negative size.
        """
        sizes = np.asarray(sizes_bits, dtype=np.int64)
        if sizes.ndim != 1:
            raise ValueError(f"{self.name}: sizes_bits must be one-dimensional, got shape {sizes.shape}")
        if sizes.size and sizes.min() < 0:
            raise ValueError(f"{self.name}: sizes_bits must be >= 0, got {int(sizes.min())}")
        if sizes.size == 0:
            return np.zeros(0, dtype=FATE_DTYPE)
        return np.asarray(self._fates(sizes, rng), dtype=FATE_DTYPE)

    @abstractmethod
    def _fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Fates of a non-empty, checked batch.

        :param sizes_bits: [N] int64 sizes in bits, N >= 1, all >= 0.
        :param rng: the source of every draw.
        :return: [N] fate codes.
        """

    def transmit(self, batch: PacketBatch, rng: np.random.Generator) -> Transmission:
        """What becomes of a frame's packets; models with timing (a radio) override this.

        This base gives :meth:`fates` of the sizes and leaves the times alone.

        :param batch: the packets, in sending order.
        :param rng: the source of every draw.
        """
        return Transmission(self.fates(batch.sizes_bits, rng))

    def stats(self) -> dict[str, float]:
        """Totals since the last :meth:`reset` that the results report (a radio's transmissions, airtime, MCS)."""
        return {}

    def corrupt(self, payload: bytes, rng: np.random.Generator) -> bytes:
        """The damaged bytes of a CORRUPTED packet that is delivered anyway.

        :param payload: the bytes that were sent.
        :param rng: the source of every draw.
        :return: the bytes that arrive (this base returns ``payload`` unchanged).
        """
        return payload


CHANNELS: Registry[ChannelModel] = Registry("channel model", group="semlink.channels")
"""Registered channel models by name."""


def check_probability(model: str, param: str, value: object) -> float:
    """A probability in [0, 1] as a float, or a one-line ``ValueError`` (see :func:`check_number`)."""
    return check_number(model, param, value, 0.0, 1.0)


def check_flag(model: str, param: str, value: object) -> bool:
    """A boolean parameter, or a one-line ``ValueError``."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{model}: {param}={value!r} must be true or false")
    return bool(value)


def build_channel(name: str, **params: object) -> ChannelModel:
    """Build the channel model registered under ``name``.

    :param name: a registered name (``ideal``, ``bernoulli``, ``gilbert_elliott``, ``bsc``, ``trace``, ...).
    :param params: the model's parameters by name.
    :raises ValueError: with a one-line message for an unknown model, an unknown or missing
        parameter name (listing the allowed ones) or a value out of range.
    """
    try:
        factory = CHANNELS.get(name)
    except UnknownComponentError as err:
        raise ValueError(str(err)) from None
    check_names(name, settings_of(factory, context=()), params)
    return factory(**params)
