"""Codecs: the base interface and the registered codecs."""

from semlink.codecs import hevc as _hevc  # noqa: F401  (registers hevc)
from semlink.codecs import pillow_codecs as _pillow_codecs  # noqa: F401  (registers jpeg, webp, avif, jpeg2000)
from semlink.codecs import raw as _raw  # noqa: F401  (registers identity and resize)
from semlink.codecs.base import CODECS, Bitstream, Codec, ReceivedBitstream, Stream
from semlink.codecs.semantic import codec as _semantic  # noqa: F401  (registers sqgan, spic, ssm, gan)
from semlink.codecs.semantic import controlnet as _controlnet  # noqa: F401  (registers controlnet)

__all__ = ["CODECS", "Bitstream", "Codec", "ReceivedBitstream", "Stream"]
