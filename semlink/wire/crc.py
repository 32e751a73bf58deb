"""The CRC-32 that closes every message, and the msgpack array headers it is computed over.

``crc32`` is :func:`zlib.crc32` of the msgpack encoding of the message's array without its last
element (``use_bin_type=True``), always written as a 5-byte msgpack uint32: msgpack's shortest
form would make a packet 2 bytes shorter whenever its CRC happened to be under 2**16, and the
CRC depends on the random run id, so ``bpp_wire`` would change from one run to the next.
A receiver checks it over the bytes as received (:func:`received_crc`), without re-encoding.
"""

from __future__ import annotations

import functools
import zlib

import msgpack

ARRAY_HEADER_BYTES = {0xDC: 3, 0xDD: 5}
"""Lengths of msgpack's array16 and array32 headers by first byte (a fixarray's is 1)."""
MSGPACK_UINT32 = b"\xce"
CRC_FIELD_BYTES = 5


def crc_field(crc: int) -> bytes:
    """The CRC as the wire writes it: a msgpack uint32 of fixed width (see the module docstring)."""
    return MSGPACK_UINT32 + crc.to_bytes(4, "big")


@functools.lru_cache(maxsize=64)
def array_header(count: int) -> bytes:
    """The msgpack header of an array of ``count`` items."""
    return msgpack.Packer(use_bin_type=True).pack_array_header(count)


@functools.lru_cache(maxsize=64)
def header_crc(count: int) -> int:
    """CRC-32 of the msgpack header of an array of ``count`` items (where a message's CRC starts)."""
    return zlib.crc32(array_header(count))


def received_crc(data: bytes, count: int, crc: int) -> int:
    """CRC-32 over the array as received minus its last element, the CRC (its canonical encoding).

    :param data: the message's bytes, an array of ``count`` items whose last one decoded to ``crc``.
    """
    header = ARRAY_HEADER_BYTES.get(data[0], 1)
    end = len(data) - CRC_FIELD_BYTES
    if end < header or data[end:] != crc_field(crc):
        return crc ^ 1  # a non-canonical CRC field can only be a damaged one
    return zlib.crc32(data[header:end], header_crc(count - 1))
