"""Codecs: the base interface and the registered codecs."""

from semlink.codecs import raw as _raw  # noqa: F401  (registers identity and resize)
from semlink.codecs.base import CODECS, Bitstream, Codec, ReceivedBitstream, Stream

__all__ = ["CODECS", "Bitstream", "Codec", "ReceivedBitstream", "Stream"]
