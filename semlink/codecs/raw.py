"""Uncompressed reference codecs: ``identity`` (raw pixels) and ``resize`` (raw, downsampled).

They bound the others: ``identity`` is the clean image at 24 bpp, ``resize`` the simplest way
to trade resolution for rate. Pixels travel in horizontal strips, each decodable alone; a lost
strip is grey.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from semlink.codecs.base import CODECS, Bitstream, Codec, ReceivedBitstream, Stream, grey

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


@CODECS.register("identity")
class IdentityCodec(Codec):
    """Raw 8-bit RGB, 24 bpp.

    :param rate: ignored (kept so every codec takes a rate).
    """

    name = "identity"

    def __init__(self, rate: float = 1.0) -> None:
        self.rate = rate

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """Raw pixels in strips."""
        return Bitstream((Stream("image", 0, strips(image)),), image.shape[:2])

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """The strips that arrived, grey elsewhere."""
        return unstrip(received.stream("image"), received.shape)


@CODECS.register("resize")
class ResizeCodec(Codec):
    """Downsample by ``rate`` (area), send raw pixels, upsample back (bicubic): 24/rate² bpp.

    :param rate: the downsampling factor (> 1 lowers the rate).
    """

    name = "resize"

    def __init__(self, rate: float = 4.0) -> None:
        if rate < 1.0:
            raise ValueError(f"resize rate {rate} must be at least 1 (the downsampling factor)")
        self.rate = rate

    def small_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """``(h, w)`` of the downsampled frame."""
        return max(1, round(shape[0] / self.rate)), max(1, round(shape[1] / self.rate))

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """Area-downsampled raw pixels in strips."""
        h, w = self.small_shape(image.shape[:2])
        small = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BOX))
        return Bitstream((Stream("image", 0, strips(small)),), image.shape[:2])

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        """Reassemble the small frame and upsample it to the full size."""
        small = unstrip(received.stream("image"), self.small_shape(received.shape))
        height, width = received.shape
        return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))
