"""JPEG, WebP, AVIF and JPEG 2000 baselines through Pillow (see :mod:`semlink.codecs.classic`).

Each codes the frame as the format's own file (JPEG/JFIF, WebP/RIFF, AVIF/HEIF, a bare JPEG 2000
codestream); its headers are payload like the rest.
"""

from __future__ import annotations

import io
from abc import abstractmethod
from typing import Any

import numpy as np
from PIL import Image

from semlink.codecs.base import CODECS
from semlink.codecs.classic import ClassicCodec

PERCENT = tuple(float(q) for q in range(101))
"""The 0–100 quality grid of JPEG, WebP and AVIF."""
J2K_RATIOS = tuple(float(f"{10_000 ** (1 - i / 127):.4g}") for i in range(128))
"""JPEG 2000 compression ratios, 10,000:1 down to 1:1 in 128 geometric steps of about 7.5 %."""


def save(image: np.ndarray, pillow_format: str, **options: Any) -> bytes:
    """``image`` saved by Pillow in ``pillow_format`` with ``options``, as bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, pillow_format, **options)
    return buffer.getvalue()


def load(payload: bytes, pillow_format: str) -> np.ndarray:
    """The RGB image of a ``pillow_format`` file; raises on anything Pillow cannot read in full."""
    with Image.open(io.BytesIO(payload), formats=[pillow_format]) as opened:
        return np.asarray(opened.convert("RGB"))


class PillowCodec(ClassicCodec):
    """A classic codec whose file Pillow writes and reads; subclasses give the save options."""

    pillow_format: str = ""

    @abstractmethod
    def options(self, quality: float) -> dict[str, Any]:
        """Pillow save options at knob value ``quality``."""

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        """The Pillow file of ``image`` at ``quality``."""
        return save(image, self.pillow_format, **self.options(quality))

    def decode(self, payload: bytes) -> np.ndarray:
        """The image in the Pillow file ``payload``."""
        return load(payload, self.pillow_format)


@CODECS.register("jpeg")
class JpegCodec(PillowCodec):
    """Baseline JPEG (libjpeg), 4:2:0, optimised Huffman tables.

    :param quality: libjpeg quality 0–100 (rounded; 0 codes as 1).
    :param target_bpp: bits per pixel to land at or below.
    """

    name = "jpeg"
    pillow_format = "JPEG"
    knob_grid = PERCENT[1:]

    def options(self, quality: float) -> dict[str, Any]:
        """libjpeg quality, optimised Huffman coding."""
        return {"quality": round(quality), "optimize": True}


@CODECS.register("webp")
class WebpCodec(PillowCodec):
    """Lossy WebP (libwebp, method 4).

    :param quality: WebP quality 0–100 (rounded).
    :param target_bpp: bits per pixel to land at or below.
    """

    name = "webp"
    pillow_format = "WEBP"
    knob_grid = PERCENT

    def options(self, quality: float) -> dict[str, Any]:
        """Lossy WebP at ``quality``."""
        return {"quality": round(quality), "method": 4}


@CODECS.register("avif")
class AvifCodec(PillowCodec):
    """AVIF (libavif with aom), 4:2:0, encoder speed 6 (Pillow's default).

    :param quality: AVIF quality 0–100 (rounded).
    :param target_bpp: bits per pixel to land at or below.
    """

    name = "avif"
    pillow_format = "AVIF"
    knob_grid = PERCENT

    def options(self, quality: float) -> dict[str, Any]:
        """AVIF quality, 4:2:0, speed 6."""
        return {"quality": round(quality), "subsampling": "4:2:0", "speed": 6}


@CODECS.register("jpeg2000")
class Jpeg2000Codec(PillowCodec):
    """JPEG 2000 (OpenJPEG): irreversible 9/7 wavelet, colour transform on, bare codestream (no JP2 boxes).

    Its knob is OpenJPEG's compression ratio (one quality layer): higher means fewer bits, and
    the bits fall steadily with it down to the headers (about 175 bytes).

    :param quality: compression ratio 1–1,000,000 (1: no rate limit, the best 9/7 coding).
    :param target_bpp: bits per pixel to land at or below.
    """

    name = "jpeg2000"
    pillow_format = "JPEG2000"
    knob_grid = J2K_RATIOS
    quality_range = (1.0, 1_000_000.0)
    quality_unit = "compression ratio"

    def options(self, quality: float) -> dict[str, Any]:
        """One layer at compression ratio ``quality``, 9/7 wavelet, colour transform, codestream only."""
        return {"quality_mode": "rates", "quality_layers": [quality], "irreversible": True, "mct": 1, "no_jp2": True}
