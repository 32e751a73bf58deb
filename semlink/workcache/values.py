"""The byte formats of the work cache's values, all msgpack (never pickle): arrays (maps, frames,
reconstructions), bitstreams (the transmitter's encodings) and a frame's metric values.

Every stage packs and unpacks its values here, so the formats live in one place; changing one
changes what old entries mean, so it goes with a new ``cache_version`` of what makes them or a
new entry ``MAGIC`` (:mod:`semlink.workcache.store`).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import msgpack
import numpy as np

if TYPE_CHECKING:  # the codecs sit above the cache; imported where a bitstream is rebuilt
    from semlink.codecs.base import Bitstream


def pack_array(array: np.ndarray) -> bytes:
    """An array as msgpack ``{shape, dtype, data}``, the data zlib level 1 (fast, and maps and
    frames shrink well)."""
    data = zlib.compress(np.ascontiguousarray(array).tobytes(), 1)
    return msgpack.packb({"shape": list(array.shape), "dtype": str(array.dtype), "data": data})


def unpack_array(payload: bytes) -> np.ndarray:
    """The array of :func:`pack_array` (writeable, as computed ones are)."""
    raw = msgpack.unpackb(payload)
    data = bytearray(zlib.decompress(raw["data"]))
    return np.frombuffer(data, dtype=np.dtype(raw["dtype"])).reshape(raw["shape"])


def pack_bitstream(bitstream: Bitstream) -> bytes:
    """A bitstream as msgpack ``{shape, settings, streams: [[name, priority, chunks]]}``."""
    streams = [[s.name, s.priority, list(s.chunks)] for s in bitstream.streams]
    return msgpack.packb({"shape": list(bitstream.shape), "settings": dict(bitstream.settings), "streams": streams})


def unpack_bitstream(payload: bytes) -> Bitstream:
    """The bitstream of :func:`pack_bitstream`."""
    from semlink.codecs.base import Bitstream, Stream

    raw = msgpack.unpackb(payload)
    streams = tuple(Stream(name, priority, tuple(chunks)) for name, priority, chunks in raw["streams"])
    return Bitstream(streams, (int(raw["shape"][0]), int(raw["shape"][1])), raw["settings"])


def pack_values(values: list[Any]) -> bytes:
    """A frame's metric values as a msgpack list (JSON-like values, as metrics return)."""
    return bytes(msgpack.packb(values))


def unpack_values(payload: bytes) -> list[Any]:
    """The metric values of :func:`pack_values`."""
    values: list[Any] = msgpack.unpackb(payload)
    return values
