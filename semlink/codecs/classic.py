"""Shared machinery of the classic image-codec baselines (JPEG, WebP, JPEG 2000, AVIF, HEVC).

A classic codec sends a frame as one chunk: a small header and the codec's own file. Given a
``target_bpp`` it searches its quality knob by bisection for the best quality that fits; when even
the lowest quality does not fit, it codes a downscaled frame (½, ⅓, ¼, ... down to 1/16), as a
user would, and the receiver scales the decoded frame back up. A lost, truncated or undecodable
chunk decodes to grey: one lost packet loses the whole frame, as with the real formats.

Chunk layout: one byte holding the downscaling divisor ``d`` (the coded frame is
``round(H / d) × round(W / d)``), the payload length as an unsigned LEB128 varint (2 bytes below
16 KiB, 3 below 2 MiB), then the payload. The header is counted in the bits like the rest.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import cast

import numpy as np
from PIL import Image

from semlink.codecs.base import (
    Bitstream,
    Codec,
    ReceivedBitstream,
    Stream,
    UndecodableError,
    check_number,
    check_positive,
    grey,
)

SCALE_DIVISORS = (1, 2, 3, 4, 6, 8, 12, 16)
"""Downscaling divisors tried in order when the target is below the full-size floor."""
MIN_SCALE = 1 / SCALE_DIVISORS[-1]
"""The smallest scale: below its floor the target cannot be met and is exceeded."""


def varint(value: int) -> bytes:
    """``value`` (≥ 0) as an unsigned LEB128 varint."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes, start: int) -> tuple[int, int]:
    """The varint at ``data[start:]`` and the offset just after it.

    :raises ValueError: if the data ends inside the varint.
    """
    value = shift = 0
    for offset in range(start, min(len(data), start + 5)):
        value |= (data[offset] & 0x7F) << shift
        shift += 7
        if not data[offset] & 0x80:
            return value, offset + 1
    raise ValueError("varint runs past the end of the chunk")


def pack(divisor: int, payload: bytes) -> bytes:
    """The chunk: divisor byte, payload length, payload."""
    return bytes([divisor]) + varint(len(payload)) + payload


def unpack(chunk: bytes) -> tuple[int, bytes]:
    """``(divisor, payload)`` of a chunk.

    :raises ValueError: if the divisor is unknown or the chunk is truncated or too long.
    """
    if not chunk or chunk[0] not in SCALE_DIVISORS:
        raise ValueError("chunk has no valid scale divisor")
    length, start = read_varint(chunk, 1)
    if len(chunk) - start != length:
        raise ValueError(f"chunk holds {len(chunk) - start} payload bytes, its header says {length}")
    return chunk[0], chunk[start:]


def scaled_shape(shape: tuple[int, int], divisor: int) -> tuple[int, int]:
    """``(h, w)`` of a frame of ``shape`` downscaled by ``divisor``."""
    return max(1, round(shape[0] / divisor)), max(1, round(shape[1] / divisor))


def resample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``shape`` with Lanczos (antialiased when shrinking); as is if already that size."""
    if image.shape[:2] == shape:
        return image
    return np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), Image.Resampling.LANCZOS))


@dataclass(frozen=True)
class Fit:
    """The outcome of a knob search at one scale.

    :param index: index into the knob grid of the chosen knob.
    :param chunk: the chunk coded with it.
    :param fits: whether the chunk is within the target (False only when even the lowest quality is over).
    """

    index: int
    chunk: bytes
    fits: bool


def bisect_knob(code: Callable[[int], bytes], size: int, budget_bits: int) -> Fit:
    """Best grid index whose chunk fits ``budget_bits``, for a grid ordered worst quality first.

    Codes index 0 first; if that is over budget, stops there (``fits`` False). Otherwise bisects,
    assuming more quality never costs fewer bits: ``1 + ceil(log2(size))`` codings at most.

    :param code: grid index -> chunk. :param size: grid length. :param budget_bits: the target.
    """
    first = code(0)
    if 8 * len(first) > budget_bits:
        return Fit(0, first, False)
    best, high = Fit(0, first, True), size
    while high - best.index > 1:
        middle = (best.index + high) // 2
        chunk = code(middle)
        if 8 * len(chunk) <= budget_bits:
            best = Fit(middle, chunk, True)
        else:
            high = middle
    return best


class ClassicCodec(Codec):
    """Base of the classic codecs: one chunk per frame, a quality knob or a bits-per-pixel target.

    Subclasses set ``name``, ``knob_grid`` (the knob values, worst quality first, more bits never
    cheaper), ``quality_range`` and ``quality_unit``, and implement :meth:`encode` and :meth:`decode`.

    :param quality: the native knob, used as is for every frame.
    :param target_bpp: bits per pixel to land at or just below, counting every byte sent.
    :raises ValueError: unless exactly one of ``quality`` and ``target_bpp`` is given, in range.

    Each bitstream's ``settings`` hold the knob used (``quality``) and the scale (``scale``: 1.0,
    or ``1/d`` when the frame was downscaled by ``d``).
    """

    knob = "quality"
    knob_grid: Sequence[float] = ()
    quality_range: tuple[float, float] = (0.0, 100.0)
    quality_unit: str = "quality"

    def __init__(self, quality: float | None = None, target_bpp: float | None = None) -> None:
        low, high = self.quality_range
        if (quality is None) == (target_bpp is None):
            raise ValueError(f"{self.name}: give exactly one of quality ({low:g}–{high:g}) or target_bpp (> 0)")
        self.quality = None if quality is None else check_number(self.name, "quality", quality, low, high)
        self.target_bpp = None if target_bpp is None else check_positive(self.name, "target_bpp", target_bpp)

    @abstractmethod
    def encode(self, image: np.ndarray, quality: float) -> bytes:
        """The codec's file for ``image`` (``[h, w, 3]`` uint8) at knob value ``quality``."""

    @abstractmethod
    def decode(self, payload: bytes) -> np.ndarray:
        """The ``[h', w', 3]`` uint8 image in ``payload`` (``h' ≥ h``, ``w' ≥ w`` if the encoder padded).

        :raises Exception: anything, on data it cannot decode.
        """

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """One chunk holding the header and the coded frame; ``ssm`` is ignored."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        shape = (image.shape[0], image.shape[1])
        if self.target_bpp is not None:
            chunk, quality, divisor = self._search(image, math.floor(self.target_bpp * shape[0] * shape[1]))
        else:
            quality, divisor = cast(float, self.quality), 1
            chunk = pack(divisor, self.encode(image, quality))
        settings = {"quality": float(quality), "scale": 1 / divisor}
        return Bitstream((Stream("image", 0, (chunk,)),), shape, settings)

    def _search(self, image: np.ndarray, budget_bits: int) -> tuple[bytes, float, int]:
        """``(chunk, knob, divisor)``: the largest scale whose lowest quality fits, its best knob.

        If no scale fits, the smallest scale at the lowest quality (over budget).
        """
        shape = (image.shape[0], image.shape[1])
        for divisor in SCALE_DIVISORS:
            small = resample(image, scaled_shape(shape, divisor))
            fit = bisect_knob(partial(self._chunk, small, divisor), len(self.knob_grid), budget_bits)
            if fit.fits:
                break
        return fit.chunk, self.knob_grid[fit.index], divisor

    def _chunk(self, image: np.ndarray, divisor: int, index: int) -> bytes:
        """The chunk of ``image`` (already downscaled by ``divisor``) at grid knob ``index``."""
        return pack(divisor, self.encode(image, self.knob_grid[index]))

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """The decoded frame at full size; grey if the chunk is lost.

        :raises UndecodableError: if the chunk arrived truncated or damaged (the receiver conceals).
        """
        chunks = received.stream("image")
        chunk = chunks[0] if len(chunks) == 1 else None
        if chunk is None:
            return grey(received.shape)
        try:
            return self._reconstruct(chunk, received.shape)
        except Exception as error:  # any decoder failure means the frame is lost
            raise UndecodableError(f"{self.name}: {type(error).__name__}: {error}") from None

    def _reconstruct(self, chunk: bytes, shape: tuple[int, int]) -> np.ndarray:
        """Decode ``chunk``, crop any encoder padding, scale back to ``shape``.

        :raises ValueError: if the decoded frame is smaller than the header says.
        """
        divisor, payload = unpack(chunk)
        height, width = scaled_shape(shape, divisor)
        small = self.decode(payload)
        if small.ndim != 3 or small.shape[0] < height or small.shape[1] < width or small.shape[2] != 3:
            raise ValueError(f"decoded {small.shape}, expected at least {height}x{width}x3")
        return resample(np.ascontiguousarray(small[:height, :width], dtype=np.uint8), shape)
