"""The codec interface: ``compress -> Bitstream`` and ``decompress(ReceivedBitstream) -> image``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from semlink.registry import Registry


@dataclass(frozen=True)
class Stream:
    """One named stream of a frame's bitstream.

    :param name: ``image``, ``ssm``, ``vq``, ``lowres``, ...
    :param priority: lower is more important (sent first, protected more).
    :param chunks: the smallest pieces the decoder can use on their own.
    """

    name: str
    priority: int
    chunks: tuple[bytes, ...]

    @property
    def bits(self) -> int:
        """Payload bits of all chunks."""
        return 8 * sum(len(c) for c in self.chunks)


@dataclass(frozen=True)
class Bitstream:
    """What a codec emits for one frame.

    :param streams: the streams, in order.
    :param shape: ``(H, W)`` of the frame.
    """

    streams: tuple[Stream, ...]
    shape: tuple[int, int]

    @property
    def bits(self) -> int:
        """Payload bits of every stream."""
        return sum(s.bits for s in self.streams)

    @property
    def bpp(self) -> float:
        """Payload bits per pixel of the frame."""
        return self.bits / (self.shape[0] * self.shape[1])

    def received(self) -> ReceivedBitstream:
        """The bitstream as received over an ideal channel (every chunk present)."""
        return ReceivedBitstream({s.name: list(s.chunks) for s in self.streams}, self.shape)


@dataclass
class ReceivedBitstream:
    """A bitstream after the channel: each chunk is its bytes, or None where it was lost.

    :param chunks: stream name -> chunks in their original order.
    :param shape: ``(H, W)`` of the frame.
    """

    chunks: dict[str, list[bytes | None]]
    shape: tuple[int, int]

    def stream(self, name: str) -> list[bytes | None]:
        """Chunks of stream ``name`` (empty if the stream never arrived)."""
        return self.chunks.get(name, [])


class Codec(ABC):
    """Base of every codec.

    Subclasses code one frame into streams of independently decodable chunks and must
    decode any pattern of missing chunks, all of them included, to an image.
    """

    name: str = ""
    uses_ssm: bool = False
    """True if :meth:`compress` needs the frame's segmentation map (the transmitter then segments)."""
    uses_label_set: bool = False
    """True if the codec models the frames' classes: it is built with ``label_set`` and ``device``."""

    @abstractmethod
    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """Code ``image`` (``[H, W, 3]`` uint8), with its segmentation map ``ssm`` if used."""

    @abstractmethod
    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """Rebuild a ``[H, W, 3]`` uint8 image from whatever arrived."""


class UndecodableError(ValueError):
    """Chunks arrived but cannot be decoded (damaged bytes): the receiver conceals the frame."""


CODECS: Registry[Codec] = Registry("codec")
GREY = 128


def grey(shape: tuple[int, int]) -> np.ndarray:
    """A mid-grey ``[H, W, 3]`` image: the reconstruction when nothing arrived."""
    return np.full((*shape, 3), GREY, dtype=np.uint8)
