"""Uncompressed reference codecs: ``identity`` (raw pixels) and ``resize`` (raw, downsampled).

They bound the others: ``identity`` is the clean image at 24 bpp, ``resize`` the simplest way
to trade resolution for rate. Pixels travel in horizontal strips, each decodable alone; a lost
strip is grey.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from semlink.codecs.base import CODECS, Bitstream, Codec, ReceivedBitstream, Stream, check_number, check_positive, grey

STRIP_ROWS = 16


def strips(image: np.ndarray, rows: int = STRIP_ROWS) -> tuple[bytes, ...]:
    """Raw bytes of consecutive ``rows``-row strips of ``image``."""
    return tuple(image[top : top + rows].tobytes() for top in range(0, image.shape[0], rows))


def unstrip(chunks: list[bytes | None], shape: tuple[int, int], rows: int = STRIP_ROWS) -> np.ndarray:
    """Reassemble strips into a ``[H, W, 3]`` image; missing or damaged strips stay grey."""
    image = grey(shape)
    for number, chunk in enumerate(chunks):
        top = number * rows
        height = min(rows, shape[0] - top)
        if chunk is None or height <= 0 or len(chunk) != height * shape[1] * 3:
            continue
        image[top : top + height] = np.frombuffer(chunk, np.uint8).reshape(height, shape[1], 3)
    return image


RAW_BPP = 24.0
"""Bits per pixel of raw 8-bit RGB."""


@CODECS.register("identity")
class IdentityCodec(Codec):
    """Raw 8-bit RGB, 24 bpp.

    :param target_bpp: accepted for symmetry with the other codecs: raw pixels cost 24 bpp, so a
        target below that is refused (use ``resize`` or a real codec).
    """

    name = "identity"

    def __init__(self, target_bpp: float | None = None) -> None:
        if target_bpp is not None and check_positive(self.name, "target_bpp", target_bpp) < RAW_BPP:
            raise ValueError(f"identity sends raw pixels (24 bpp); target_bpp {target_bpp:g} needs resize or a codec")
        self.target_bpp = target_bpp

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """Raw pixels in strips."""
        return Bitstream((Stream("image", 0, strips(image)),), image.shape[:2])

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """The strips that arrived, grey elsewhere."""
        return unstrip(received.stream("image"), received.shape)


@CODECS.register("resize")
class ResizeCodec(Codec):
    """Downsample by ``factor`` (area), send raw pixels, upsample back (bicubic): 24/factor² bpp.

    :param factor: the downsampling factor (≥ 1; default 4 when no ``target_bpp`` is given).
    :param target_bpp: the smallest factor whose raw pixels fit this many bits per pixel; it
        depends on the frame size only, so the receiver derives the same factor and nothing is sent.
    """

    name = "resize"
    knob = "factor"

    def __init__(self, factor: float | None = None, target_bpp: float | None = None) -> None:
        if factor is not None and target_bpp is not None:
            raise ValueError("resize: give factor or target_bpp, not both")
        self.factor = check_number(self.name, "factor", 4.0 if factor is None else factor, 1.0)
        self.target_bpp = None if target_bpp is None else check_positive(self.name, "target_bpp", target_bpp)

    def small_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """``(h, w)`` of the downsampled frame."""
        if self.target_bpp is None:
            return max(1, round(shape[0] / self.factor)), max(1, round(shape[1] / self.factor))
        budget = self.target_bpp * shape[0] * shape[1] / RAW_BPP  # pixels of the small frame
        scale = min(1.0, (budget / (shape[0] * shape[1])) ** 0.5)
        h, w = max(1, int(shape[0] * scale)), max(1, int(shape[1] * scale))
        while h * w > budget and (h > 1 or w > 1):
            h, w = max(1, h - 1), max(1, round(shape[1] * (h - 1) / shape[0]))
        return h, w

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """Area-downsampled raw pixels in strips."""
        h, w = self.small_shape(image.shape[:2])
        small = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BOX))
        return Bitstream((Stream("image", 0, strips(small)),), image.shape[:2], {"factor": image.shape[0] / h})

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """Reassemble the small frame and upsample it to the full size."""
        small = unstrip(received.stream("image"), self.small_shape(received.shape))
        height, width = received.shape
        return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))
