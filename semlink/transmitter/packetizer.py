"""Packetizer: one frame's :class:`~semlink.codecs.base.Bitstream` -> wire packets of at most ``mtu`` payload bytes.

Streams go out in order of ``priority`` (a stable sort), their chunks in order. Each packet carries
whole consecutive chunks of one stream, as many as fit in ``mtu`` payload bytes, framing included
(application-level framing: a lost packet loses only its own chunks). A chunk that does not fit
alone in one packet is split into ``frag_count >= 2`` fragments of nearly equal size, each in its
own packet with ``chunk_count = 1``; the chunk is usable only when all its fragments arrive.

The payload framing is :mod:`semlink.wire.framing`'s. Zero-length chunks are allowed; a stream
with no chunks sends nothing.
"""

from __future__ import annotations

from semlink.codecs.base import Bitstream, Stream
from semlink.wire import DEFAULT_LIMITS, Packet, frame_chunks, frame_fragments, framed_size, framing_bytes

MTU_PRESETS: dict[str, int] = {"default": 1200, "its-g5": 1398, "ip": 1472}
MIN_MTU = 64
MAX_MTU = DEFAULT_LIMITS.max_payload


def resolve_mtu(value: int | str) -> int:
    """The MTU (payload bytes per packet) for a preset name or an int.

    :param value: a name of :data:`MTU_PRESETS` or an int in ``[MIN_MTU, MAX_MTU]``.
    :raises ValueError: for an unknown name or an int out of range.
    """
    if isinstance(value, str):
        if value not in MTU_PRESETS:
            raise ValueError(f"unknown MTU preset {value!r}; presets: {', '.join(MTU_PRESETS)} (or an int)")
        return MTU_PRESETS[value]
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_MTU <= value <= MAX_MTU:
        raise ValueError(
            f"MTU must be an int in [{MIN_MTU}, {MAX_MTU}] or a preset ({', '.join(MTU_PRESETS)}), got {value!r}"
        )
    return value


def packetize(bitstream: Bitstream, run_id: int, point: int, frame: int, mtu: int, t_us: int = 0) -> list[Packet]:
    """Split one frame's bitstream into packets, most important stream first.

    :param bitstream: the codec's output for the frame.
    :param run_id: the run.
    :param point: the sweep point.
    :param frame: the frame index.
    :param mtu: payload bytes per packet, framing included (see :func:`resolve_mtu`).
    :param t_us: the send time stamped on every packet (µs).
    :raises ValueError: for a bad MTU, duplicate stream names, or a stream too large for the wire.
    """
    mtu = resolve_mtu(mtu)
    names = [s.name for s in bitstream.streams]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate stream names in {names}")
    packets: list[Packet] = []
    for stream in sorted(bitstream.streams, key=lambda s: s.priority):
        for first, count, payloads in _stream_payloads(stream, mtu):
            packets.extend(
                Packet(run_id, point, frame, stream.name, first, count, i, len(payloads), t_us, payload)
                for i, payload in enumerate(payloads)
            )
    return packets


def payload_overhead_bytes(packets: list[Packet]) -> int:
    """Framing bytes (see :mod:`semlink.wire.framing`) in ``packets``' payloads.

    :param packets: packets made by :func:`packetize`.
    """
    return sum(framing_bytes(p.chunk_count, p.frag_count) for p in packets)


def chunk_bytes(packets: list[Packet]) -> int:
    """Chunk bytes carried by ``packets`` (what the rate counts; framing and headers excluded).

    :param packets: packets made by :func:`packetize`.
    """
    return sum(len(p.payload) for p in packets) - payload_overhead_bytes(packets)


def _stream_payloads(stream: Stream, mtu: int) -> list[tuple[int, int, list[bytes]]]:
    """``(chunk_first, chunk_count, payloads)`` per group of chunks; several payloads = fragments."""
    total = len(stream.chunks)
    if total > DEFAULT_LIMITS.max_chunks:
        raise ValueError(f"stream {stream.name!r} has {total} chunks > {DEFAULT_LIMITS.max_chunks}")
    groups = []
    for first, count in _groups([len(c) for c in stream.chunks], mtu):
        chunks = stream.chunks[first : first + count]
        if count == 1 and framed_size([len(chunks[0])]) > mtu:
            groups.append((first, 1, _fragments(chunks[0], total, mtu, stream.name)))
        else:
            groups.append((first, count, [frame_chunks(chunks, total)]))
    return groups


def _groups(sizes: list[int], mtu: int) -> list[tuple[int, int]]:
    """Greedy ``(first, count)`` runs of consecutive chunks whose framed size fits ``mtu`` (a run of one may not)."""
    groups: list[tuple[int, int]] = []
    empty = framed_size([])
    first, used = 0, empty
    for index, size in enumerate(sizes):
        cost = framed_size([size]) - empty
        if index > first and used + cost > mtu:
            groups.append((first, index - first))
            first, used = index, empty
        used += cost
    if sizes:
        groups.append((first, len(sizes) - first))
    return groups


def _fragments(chunk: bytes, total: int, mtu: int, name: str) -> list[bytes]:
    """Payloads of the ``>= 2`` nearly equal fragments of one chunk."""
    room = mtu - framing_bytes(1, 2)
    count = max(2, -(-len(chunk) // room))
    if count > DEFAULT_LIMITS.max_frags:
        limit = DEFAULT_LIMITS.max_frags
        raise ValueError(f"a chunk of {len(chunk)} bytes in stream {name!r} needs {count} fragments > {limit}")
    return frame_fragments(chunk, total, count)
