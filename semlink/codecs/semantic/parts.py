"""Stream parts: what the semantic codecs are composed of.

A part owns one kind of stream (the map, the tokens, the low-res image, the caption): it codes a
frame into that stream's chunks and, at the receiver, turns whatever chunks arrived into the
decoder's inputs. A codec is the list of its parts (:mod:`~semlink.codecs.semantic.codec`); each
part codes after the ones before it, so a part searching its knob for ``target_bpp`` spends what
the earlier parts left.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from semlink.codecs.base import ReceivedBitstream, Stream
from semlink.codecs.semantic.map_coder import MapCoder
from semlink.codecs.semantic.network import Analysis, DecoderInputs, NetworkRunner
from semlink.codecs.semantic.options import SemanticOptions
from semlink.codecs.semantic.token_coder import TokenCoder
from semlink.data.labelset import LabelSet


@dataclass(frozen=True)
class FrameToCode:
    """One frame at the transmitter.

    :param image: ``[H, W, 3]`` uint8.
    :param ssm: its segmentation map ``[H, W]`` (None for a codec that sends none).
    :param analysis: the network's :data:`~semlink.codecs.semantic.network.Analysis` (codecs with tokens).
    """

    image: np.ndarray
    ssm: np.ndarray | None
    analysis: Analysis | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def pixels(self) -> int:
        """``H · W``."""
        return self.shape[0] * self.shape[1]


@dataclass
class CodedFrame:
    """The streams and settings the parts have written for a frame so far."""

    streams: list[Stream] = field(default_factory=list)
    settings: dict[str, float] = field(default_factory=dict)

    @property
    def bits(self) -> int:
        """Bits of every chunk written so far (what a later part's ``target_bpp`` search must leave out)."""
        return sum(stream.bits for stream in self.streams)


@dataclass(frozen=True)
class PartContext:
    """What a part is built from: the codec's checked settings and its checkpoint's network and coders."""

    options: SemanticOptions
    label_set: LabelSet
    runner: NetworkRunner
    map_coder: MapCoder
    token_coder: TokenCoder

    @property
    def unknown(self) -> int:
        """The map's *unknown* class (one past the label set's classes)."""
        return self.label_set.num_classes


class StreamPart(ABC):
    """One stream of a semantic codec: encoder and decoder of its chunks."""

    @classmethod
    @abstractmethod
    def build(cls, context: PartContext, earlier: Sequence[StreamPart]) -> StreamPart:
        """The part for a codec's settings; ``earlier`` are the parts built before it (a part that
        reads another's output finds it there)."""

    @abstractmethod
    def encode(self, frame: FrameToCode, coded: CodedFrame) -> None:
        """Add this part's streams (and settings) for ``frame`` to ``coded``."""

    @abstractmethod
    def decode(self, received: ReceivedBitstream, inputs: DecoderInputs) -> None:
        """Fill ``inputs`` from this part's chunks that arrived (missing or damaged ones leave
        the defaults: unknown map, masked tokens, no low-res, no caption)."""

    def finish(self, image: np.ndarray, inputs: DecoderInputs) -> np.ndarray:
        """The decoded frame after this part's step past the network (default: unchanged)."""
        return image


PartT = TypeVar("PartT", bound=StreamPart)


def find_part(parts: Sequence[StreamPart], kind: type[PartT]) -> PartT | None:
    """The part of type ``kind`` among ``parts``, or None."""
    return next((part for part in parts if isinstance(part, kind)), None)


OutT = TypeVar("OutT")


def largest_that_fits(
    high: int, encode: Callable[[int], OutT], bits: Callable[[OutT], int], budget: float
) -> tuple[OutT, int]:
    """``(encode(v), v)`` for the largest ``v`` in ``0..high`` whose output has at most ``budget``
    bits (bisection: the bits grow with ``v``), or for 0 if none fits."""
    low, best, best_value = 0, encode(0), 0
    while low <= high:
        middle = (low + high) // 2
        out = encode(middle)
        if bits(out) <= budget:
            best, best_value, low = out, middle, middle + 1
        else:
            high = middle - 1
    return best, best_value
