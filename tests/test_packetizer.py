"""The packetizer: whole chunks per packet, fragments only when needed, and an exact round trip."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest

from semlink.codecs.base import Bitstream, Stream
from semlink.receiver.reassembly import Reassembler
from semlink.transmitter.packetizer import (
    MTU_PRESETS,
    chunk_bytes,
    packetize,
    payload_overhead_bytes,
    resolve_mtu,
)
from semlink.wire import Packet, decode_message, encode_message

MIXES: dict[str, list[int]] = {
    "small": [40] * 50,
    "one-big": [10_000],
    "zero-length": [0, 0, 5, 0],
    "mixed": [0, 3000, 17, 1199, 1200, 1194, 1195, 1196, 1, 0, 5000, 64],
    "single-byte": [1],
}


def make_bitstream(sizes: list[int], seed: int = 0) -> Bitstream:
    """Three streams: ``ssm`` with ``sizes``, ``image`` with the sizes reversed, and an empty ``vq``."""
    rng = np.random.default_rng(seed)

    def chunks(lengths: list[int]) -> tuple[bytes, ...]:
        return tuple(rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in lengths)

    streams = (
        Stream("image", 2, chunks(sizes[::-1])),
        Stream("ssm", 0, chunks(sizes)),
        Stream("vq", 1, ()),
    )
    return Bitstream(streams, (64, 96))


def reassemble(packets: list[Packet]) -> dict[str, list[bytes | None]]:
    """The chunks of frame 0 after a lossless channel."""
    reassembler = Reassembler(expected_frames=1, frame_interval_us=33_333, deadline_us=None)
    for packet in packets:
        message = decode_message(encode_message(packet)).message
        assert isinstance(message, Packet)
        reassembler.add(message)
    (arrival,) = reassembler.flush()
    assert arrival.complete and arrival.packets == len(packets)
    return arrival.chunks


@pytest.mark.parametrize("mtu", [*MTU_PRESETS.values(), 64])
@pytest.mark.parametrize("mix", sorted(MIXES))
def test_lossless_round_trip_is_exact(mtu: int, mix: str) -> None:
    bitstream = make_bitstream(MIXES[mix])
    chunks = reassemble(packetize(bitstream, run_id=1, point=2, frame=0, mtu=mtu))
    assert chunks == {s.name: list(s.chunks) for s in bitstream.streams if s.chunks}


@pytest.mark.parametrize("mtu", [*MTU_PRESETS.values(), 64, 200])
@pytest.mark.parametrize("mix", sorted(MIXES))
def test_packets_fit_and_count_every_chunk_byte(mtu: int, mix: str) -> None:
    bitstream = make_bitstream(MIXES[mix])
    packets = packetize(bitstream, run_id=1, point=2, frame=5, mtu=mtu, t_us=777)
    assert all(len(p.payload) <= mtu for p in packets)
    assert chunk_bytes(packets) == bitstream.bits // 8
    assert chunk_bytes(packets) + payload_overhead_bytes(packets) == sum(len(p.payload) for p in packets)
    assert all((p.run_id, p.point, p.frame, p.t_us) == (1, 2, 5, 777) for p in packets)
    assert all(decode_message(encode_message(p)).message == p for p in packets)


def test_streams_go_out_by_priority_and_chunks_in_order() -> None:
    bitstream = make_bitstream(MIXES["mixed"])
    packets = packetize(bitstream, 0, 0, 0, 1200)
    names = [p.stream for p in packets]
    assert names == sorted(names, key=["ssm", "vq", "image"].index) and "vq" not in names
    for name in ("ssm", "image"):
        firsts = [(p.chunk_first, p.frag) for p in packets if p.stream == name]
        assert firsts == sorted(firsts)


def test_equal_priorities_keep_their_order() -> None:
    streams = (Stream("b", 0, (b"1",)), Stream("a", 0, (b"2",)), Stream("c", -1, (b"3",)))
    assert [p.stream for p in packetize(Bitstream(streams, (8, 8)), 0, 0, 0, 64)] == ["c", "b", "a"]


@pytest.mark.parametrize(("size", "count", "mtu"), [(40, 50, 1200), (100, 30, 1200), (0, 500, 64), (7, 9, 100)])
def test_packets_are_filled_greedily(size: int, count: int, mtu: int) -> None:
    per_packet = (mtu - 2) // (4 + size)
    packets = packetize(Bitstream((Stream("s", 0, (b"x" * size,) * count),), (8, 8)), 0, 0, 0, mtu)
    assert [p.chunk_count for p in packets[:-1]] == [per_packet] * (len(packets) - 1)
    assert len(packets) == -(-count // per_packet)


@pytest.mark.parametrize(("size", "mtu"), [(1195, 1200), (1196, 1200), (5000, 1200), (10_000, 64), (63, 64)])
def test_oversized_chunks_become_even_fragments(size: int, mtu: int) -> None:
    chunk = bytes(range(256)) * (size // 256) + bytes(size % 256)
    packets = packetize(Bitstream((Stream("s", 0, (chunk,)),), (8, 8)), 0, 0, 0, mtu)
    assert len(packets) >= 2 and all(p.chunk_count == 1 and p.frag_count == len(packets) for p in packets)
    assert [p.frag for p in packets] == list(range(len(packets)))
    sizes = [len(p.payload) - 2 for p in packets]
    assert max(sizes) - min(sizes) <= 1 and max(sizes) <= mtu - 2
    assert b"".join(p.payload[2:] for p in packets) == chunk
    assert all(struct.unpack(">H", p.payload[:2]) == (1,) for p in packets)


@pytest.mark.parametrize(("size", "mtu"), [(1194, 1200), (58, 64)])
def test_a_chunk_that_just_fits_is_not_fragmented(size: int, mtu: int) -> None:
    (packet,) = packetize(Bitstream((Stream("s", 0, (b"y" * size,)),), (8, 8)), 0, 0, 0, mtu)
    assert packet.frag_count == 1 and len(packet.payload) == mtu
    assert packet.payload[:6] == struct.pack(">HI", 1, size)


def test_empty_bitstream_sends_nothing() -> None:
    assert packetize(Bitstream((Stream("s", 0, ()),), (8, 8)), 0, 0, 0, 1200) == []
    assert packetize(Bitstream((), (8, 8)), 0, 0, 0, 1200) == []


@pytest.mark.parametrize(("value", "expected"), [*MTU_PRESETS.items(), (64, 64), (9000, 9000)])
def test_resolve_mtu(value: int | str, expected: int) -> None:
    assert resolve_mtu(value) == expected


@pytest.mark.parametrize("value", ["jumbo", "", 63, 0, -1, 65_537, True, 1200.0])
def test_resolve_mtu_rejects_with_the_presets_named(value: Any) -> None:
    with pytest.raises(ValueError, match="its-g5") as info:
        resolve_mtu(value)
    assert all(name in str(info.value) for name in MTU_PRESETS)


def test_packetize_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="MTU"):
        packetize(make_bitstream([1]), 0, 0, 0, 10)
    with pytest.raises(ValueError, match="duplicate stream"):
        packetize(Bitstream((Stream("s", 0, (b"1",)), Stream("s", 1, (b"2",))), (8, 8)), 0, 0, 0, 1200)
    with pytest.raises(ValueError, match="chunks"):
        packetize(Bitstream((Stream("s", 0, (b"",) * 65_536),), (8, 8)), 0, 0, 0, 1200)
    with pytest.raises(ValueError, match="fragments"):
        packetize(Bitstream((Stream("s", 0, (bytes(62 * 4097),)),), (8, 8)), 0, 0, 0, 64)
