"""The ``lowres`` stream: the frame downsampled ×4 or ×8 and coded with WebP (Pillow).

WebP is the best of the classic baselines at these sizes on this machine (see ``shared/notes``).
One chunk: a byte with the divisor, then the WebP file.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

DIVISORS = (4, 8)


def small_shape(shape: tuple[int, int], divisor: int) -> tuple[int, int]:
    """``(h, w)`` of a frame of ``shape`` downsampled by ``divisor``."""
    return max(1, round(shape[0] / divisor)), max(1, round(shape[1] / divisor))


def encode_lowres(image: np.ndarray, divisor: int, quality: int) -> bytes:
    """Downsample ``image [H, W, 3]`` (area) by ``divisor`` and code it with WebP at ``quality``."""
    if divisor not in DIVISORS:
        raise ValueError(f"low-res divisor {divisor} must be one of {DIVISORS}")
    h, w = small_shape(image.shape[:2], divisor)
    small = Image.fromarray(image).resize((w, h), Image.Resampling.BOX)
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=int(quality), method=6)
    return bytes([divisor]) + out.getvalue()


def decode_lowres(chunk: bytes, shape: tuple[int, int]) -> np.ndarray:
    """The low-res image of a chunk, bilinearly upsampled to ``shape``: ``[H, W, 3]`` uint8.

    :raises ValueError: if the chunk is damaged.
    """
    if not chunk or chunk[0] not in DIVISORS:
        raise ValueError("low-res chunk has no valid divisor")
    try:
        small = Image.open(io.BytesIO(chunk[1:]))
        small.load()
        if small.size != small_shape(shape, chunk[0])[::-1]:
            raise ValueError(f"low-res image is {small.size}, expected {small_shape(shape, chunk[0])[::-1]}")
        return np.asarray(small.convert("RGB").resize((shape[1], shape[0]), Image.Resampling.BILINEAR))
    except (OSError, SyntaxError) as error:
        raise ValueError(f"low-res chunk cannot be decoded: {error}") from None
