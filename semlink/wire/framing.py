"""Chunk framing: how whole chunks, or the fragments of one chunk, sit in a packet's payload.

Big-endian, written with :mod:`struct`::

    every packet        total    >H               chunks of this stream in this frame
    frag_count == 1     lengths  >I * chunk_count  byte length of each carried chunk
                        data                      the carried chunks' bytes, concatenated
    frag_count > 1      data                      this fragment's slice of the one chunk's bytes

So an unfragmented packet carrying ``k`` chunks has ``2 + 4k`` framing bytes and a fragment has 2.
Zero-length chunks are allowed. Which chunks go in which packet is the packetizer's choice
(:mod:`semlink.transmitter.packetizer`); this module only writes and reads the bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import msgpack

from semlink.wire.packets import CHUNK_COUNT_FIELD, FRAG_COUNT_FIELD, PAYLOAD_FIELD, Packet

TOTAL = struct.Struct(">H")
LENGTH = struct.Struct(">I")
MAX_TOTAL = 2**16 - 1


def framing_bytes(chunk_count: int, frag_count: int) -> int:
    """Framing bytes in the payload of a packet with these counts."""
    return TOTAL.size + (LENGTH.size * chunk_count if frag_count == 1 else 0)


def framed_size(sizes: Sequence[int]) -> int:
    """Payload bytes of an unfragmented packet carrying chunks of ``sizes`` bytes."""
    return TOTAL.size + sum(LENGTH.size + s for s in sizes)


def frame_chunks(chunks: Sequence[bytes], total: int) -> bytes:
    """The payload of an unfragmented packet carrying ``chunks`` of a stream of ``total`` chunks."""
    lengths = b"".join(LENGTH.pack(len(c)) for c in chunks)
    return TOTAL.pack(total) + lengths + b"".join(chunks)


def frame_fragments(chunk: bytes, total: int, count: int) -> list[bytes]:
    """The payloads of ``count`` nearly equal fragments of one chunk."""
    base, extra = divmod(len(chunk), count)
    payloads, start = [], 0
    for i in range(count):
        end = start + base + (1 if i < extra else 0)
        payloads.append(TOTAL.pack(total) + chunk[start:end])
        start = end
    return payloads


def parse_payload(packet: Packet) -> tuple[int, list[bytes]] | None:
    """``(total, pieces)`` of a packet's payload (whole chunks, or one fragment's slice), or None
    if the framing is broken."""
    if packet.chunk_count < 1 or packet.chunk_first < 0 or not 0 <= packet.frag < packet.frag_count:
        return None
    if packet.frag_count > 1 and packet.chunk_count != 1:
        return None
    payload = packet.payload
    if len(payload) < TOTAL.size:
        return None
    (total,) = TOTAL.unpack_from(payload)
    if packet.frag_count > 1:
        return total, [payload[TOTAL.size :]]
    start = framing_bytes(packet.chunk_count, 1)
    if len(payload) < start:
        return None
    lengths = [LENGTH.unpack_from(payload, TOTAL.size + LENGTH.size * i)[0] for i in range(packet.chunk_count)]
    if start + sum(lengths) != len(payload):
        return None
    pieces = []
    for length in lengths:
        pieces.append(payload[start : start + length])
        start += length
    return total, pieces


def chunk_span(data: bytes) -> tuple[int, int]:
    """Byte range, within an encoded packet, of its chunk bytes (the payload after its framing).

    This is what a partial checksum (UDP-Lite style) leaves uncovered: a channel that delivers
    damaged packets confines its bit errors to it.
    """
    items = msgpack.unpackb(data)
    chunk_count, frag_count = int(items[CHUNK_COUNT_FIELD]), int(items[FRAG_COUNT_FIELD])
    payload = items[PAYLOAD_FIELD]
    end = len(data) - len(msgpack.packb(items[-1]))
    return end - len(payload) + framing_bytes(chunk_count, frag_count), end
