"""The codec interface: ``compress -> Bitstream`` and ``decompress(ReceivedBitstream) -> image``."""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from semlink.registry import Registry
from semlink.settings import check_number, settings_of


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
    :param settings: what the codec chose for this frame (``quality``, ``scale``, ``tokens``,
        ``map_scale``, ...): reported per frame, never sent.
    """

    streams: tuple[Stream, ...]
    shape: tuple[int, int]
    settings: Mapping[str, float] = field(default_factory=dict)

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

    name: ClassVar[str] = ""
    files: ClassVar[tuple[str, ...]] = ()
    """Settings whose value names a file the codec reads (checked on disk before anything loads)."""
    knob: ClassVar[str | None] = None
    """The codec's own rate knob (``quality``, ``tokens``, ``map_scale``, ``factor``), the
    alternative to ``target_bpp``; None if ``target_bpp`` is its only one."""
    uses_ssm: ClassVar[bool] = False
    """True if :meth:`compress` needs the frame's segmentation map (the transmitter then segments)."""
    uses_label_set: ClassVar[bool] = False
    """True if the codec models the frames' classes: it is built with ``label_set`` and ``device``."""
    cache_version: ClassVar[str] = ""
    """Part of the work cache's keys: a codec whose code changes what it outputs bumps it, so its
    cached bitstreams and reconstructions are not reused (the package version is in the keys too)."""

    def model_identity(self) -> str:
        """What else shapes this codec's output besides its class and settings (e.g. a hash of its
        checkpoint); part of the work cache's keys. Default: nothing."""
        return ""

    @abstractmethod
    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """Code ``image`` (``[H, W, 3]`` uint8), with its segmentation map ``ssm`` if used."""

    @abstractmethod
    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """Rebuild a ``[H, W, 3]`` uint8 image from whatever arrived."""

    def compress_batch(self, images: Sequence[np.ndarray], ssms: Sequence[np.ndarray | None]) -> list[Bitstream]:
        """Code several frames (``[H, W, 3]`` uint8 each, with their maps or None): one bitstream
        each, the same as :meth:`compress` gives. The base class codes them one by one; a codec
        with a network overrides it to run one forward pass over the batch."""
        return [self.compress(image, ssm) for image, ssm in zip(images, ssms, strict=True)]

    def decompress_batch(self, received: Sequence[ReceivedBitstream]) -> list[np.ndarray]:
        """Rebuild several frames (:meth:`decompress` of each; the base class loops)."""
        return [self.decompress(one) for one in received]


class UndecodableError(ValueError):
    """Chunks arrived but cannot be decoded (damaged bytes): the receiver conceals the frame."""


def check_codec_class(name: str, factory: Callable[..., object]) -> None:
    """What registration demands of a codec: a :class:`Codec` subclass named ``name`` that
    implements ``compress`` and ``decompress``, and whose constructor takes ``label_set`` and
    ``device`` if it declares ``uses_label_set`` (or takes any name). Its other settings are its
    own: ``target_bpp`` is needed only where a scenario sets it, and a codec may have no knob.

    :raises TypeError: naming the codec and what it lacks.
    """
    if not (isinstance(factory, type) and issubclass(factory, Codec)):
        raise TypeError(f"codec {name!r}: {factory!r} is not a subclass of semlink.codecs.base.Codec")
    if inspect.isabstract(factory):
        raise TypeError(f"codec {name!r}: {factory.__name__} does not implement compress and decompress")
    if ":" not in name and factory.name != name:  # an import path is its own name
        raise TypeError(f"codec {name!r}: its class says name = {factory.name!r}; make them the same")
    if factory.uses_label_set and settings_of(factory, context=()) is not None:
        parameters = inspect.signature(factory).parameters
        missing = [key for key in ("label_set", "device") if key not in parameters]
        if missing:
            raise TypeError(f"codec {name!r}: it uses a label set, so its constructor must take {', '.join(missing)}")


def check_positive(codec: str, key: str, value: object) -> float:
    """``value`` as a float after checking it is a finite number > 0 (e.g. ``target_bpp``);
    :func:`semlink.settings.check_number` with the range ``> 0``."""
    return check_number(codec, key, value, 0.0, math.inf, low_open=True)


CODECS: Registry[Codec] = Registry("codec", check=check_codec_class, group="semlink.codecs")
GREY = 128


def grey(shape: tuple[int, int]) -> np.ndarray:
    """A mid-grey ``[H, W, 3]`` image: the reconstruction when nothing arrived."""
    return np.full((*shape, 3), GREY, dtype=np.uint8)


def codec_class(name: str) -> type[Codec]:
    """The class registered under ``name`` (registration guarantees a :class:`Codec` subclass).

    :raises semlink.registry.UnknownComponentError: if nothing is registered under ``name``.
    """
    factory = CODECS.get(name)
    assert isinstance(factory, type) and issubclass(factory, Codec)
    return factory
