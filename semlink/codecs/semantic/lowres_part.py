"""The low-res part: the stream ``lowres`` (priority 2), one chunk, the frame downsampled
×``lowres_divisor`` and coded with WebP (:mod:`~semlink.codecs.semantic.lowres`)."""

from __future__ import annotations

from collections.abc import Sequence

from semlink.codecs.base import ReceivedBitstream, Stream
from semlink.codecs.semantic.lowres import decode_lowres, encode_lowres
from semlink.codecs.semantic.network import DecoderInputs
from semlink.codecs.semantic.parts import CodedFrame, FrameToCode, PartContext, StreamPart, largest_that_fits


class LowresPart(StreamPart):
    """A low-resolution WebP copy of the frame, at a set quality or the best that meets ``target_bpp``.

    :param divisor: downsampling (4 or 8).
    :param quality: WebP quality (0–100) when no ``target_bpp`` is given.
    :param search_bpp: with a value, the quality is searched per frame for this many bits per pixel.
    """

    def __init__(self, divisor: int, quality: float, search_bpp: float | None = None) -> None:
        self.divisor, self.quality, self.search_bpp = divisor, quality, search_bpp

    @classmethod
    def build(cls, context: PartContext, earlier: Sequence[StreamPart]) -> LowresPart:
        """The low-res part of a codec's settings."""
        options = context.options
        return cls(options.lowres_divisor, options.quality, options.target_bpp)

    def encode(self, frame: FrameToCode, coded: CodedFrame) -> None:
        """Add ``lowres`` and the setting ``quality``."""
        if self.search_bpp is None:
            quality = int(self.quality)
            chunk = encode_lowres(frame.image, self.divisor, quality)
        else:
            budget = self.search_bpp * frame.pixels - coded.bits

            def encode(value: int) -> bytes:
                return encode_lowres(frame.image, self.divisor, value)

            chunk, quality = largest_that_fits(100, encode, lambda c: 8 * len(c), budget)
        coded.streams.append(Stream("lowres", 2, (chunk,)))
        coded.settings["quality"] = quality

    def decode(self, received: ReceivedBitstream, inputs: DecoderInputs) -> None:
        """The upsampled low-res frame, if its chunk arrived intact."""
        chunks = received.stream("lowres")
        if not chunks or chunks[0] is None:
            return
        try:
            inputs.lowres = decode_lowres(chunks[0], received.shape)
        except ValueError:
            return
