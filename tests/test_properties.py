"""Property-based tests (hypothesis): whatever bytes arrive, the wire decoder raises only
``WireError``, reassembly keeps its bounds and hands out every frame once, and every codec's
``decompress`` returns an image or raises ``UndecodableError``, each call within a time bound.

The examples are derandomized (same inputs on every run, see ``conftest.py``'s profile). The time
bound is a hang guard, far above a normal call (a decode here takes milliseconds), not a speed
claim: it fails only on a call that hangs or explodes.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from functools import cache
from types import FrameType

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semlink.codecs import CODECS, Bitstream, ReceivedBitstream
from semlink.codecs.base import Stream, UndecodableError
from semlink.data.sources import open_source
from semlink.receiver.reassembly import Reassembler
from semlink.transmitter.packetizer import packetize
from semlink.wire import Packet, WireError, decode_message, read_message, relay_view
from semlink.wire.batch import pack_parts
from semlink.wire.format import decode, encode
from semlink.wire.framing import frame_chunks
from tests.fakes import tiny_codec_checkpoint

CALL_BOUND_S = 30.0
"""The most one call may take: a hang guard (see the module docstring)."""


@contextlib.contextmanager
def within(seconds: float, what: str) -> Iterator[None]:
    """Fail the test if the block runs longer than ``seconds`` (SIGALRM: main thread, POSIX)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"{what} took more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


RUN = 2**62 + 12345

packets = st.builds(
    Packet,
    run_id=st.integers(0, 2**63 - 1),
    point=st.integers(0, 1000),
    frame=st.integers(0, 10_000),
    stream=st.sampled_from(["image", "ssm", "tokens", "lowres"]),
    chunk_first=st.integers(0, 100),
    chunk_count=st.integers(1, 8),
    frag=st.just(0),
    frag_count=st.just(1),
    t_us=st.integers(0, 2**40),
    payload=st.binary(max_size=300),
)


@st.composite
def damaged_bytes(draw: st.DrawFn, source: st.SearchStrategy[bytes]) -> bytes:
    """``source`` bytes, then truncated, bit-flipped, extended or spliced."""
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "extend", "splice"]))
        if kind == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif kind == "flip" and data:
            position = draw(st.integers(0, 8 * len(data) - 1))
            data[position // 8] ^= 1 << (position % 8)
        elif kind == "extend":
            data += draw(st.binary(max_size=64))
        elif kind == "splice" and data:
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=13) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=30,
)
wire_inputs = (
    st.binary(max_size=2000)
    | damaged_bytes(packets.map(encode))
    | msgpack_values.map(lambda value: msgpack.packb(value, use_bin_type=True))
)


@settings(max_examples=600)
@given(wire_inputs)
def test_wire_decoders_raise_only_wire_error(data: bytes) -> None:
    for reader in (decode, decode_message, relay_view):
        with contextlib.suppress(WireError):
            reader(data)


@settings(max_examples=300)
@given(st.lists(wire_inputs, max_size=4), st.integers(1, 64))
def test_message_reader_raises_only_wire_error_and_keeps_its_part_cap(frames: list[bytes], cap: int) -> None:
    candidates = [frames, [pack_parts(frames)] if sum(map(len, frames)) < 2**20 else frames]
    for message in candidates:
        with contextlib.suppress(WireError):
            batch = read_message(message, max_parts=cap)
            assert len(batch.parts) <= cap


@settings(max_examples=300)
@given(packets)
def test_every_valid_packet_round_trips(packet: Packet) -> None:
    assert decode(encode(packet)).message == packet


reassembly_packets = st.builds(
    Packet,
    run_id=st.just(RUN),
    point=st.just(0),
    frame=st.integers(-1, 7),
    stream=st.sampled_from(["image", "ssm"]),
    chunk_first=st.integers(0, 6),
    chunk_count=st.integers(0, 4),
    frag=st.integers(0, 3),
    frag_count=st.integers(1, 3),
    t_us=st.integers(0, 20_000),
    payload=st.binary(max_size=40)
    | st.lists(st.binary(max_size=30), min_size=1, max_size=3).map(lambda c: frame_chunks(c, 6)),
)


@settings(max_examples=400)
@given(st.lists(reassembly_packets, max_size=60), st.integers(1, 3), st.sampled_from([None, 3_000]))
def test_reassembly_hands_out_every_frame_once_within_its_budget(
    stream: list[Packet], window: int, deadline: int | None
) -> None:
    budget = 400
    reassembler = Reassembler(6, 1_000, deadline, window=window, max_frame_bytes=budget)
    handed = []
    for packet in stream:
        reassembler.add(packet)
        assert reassembler.buffered_bytes <= budget * reassembler.open_frames
        handed += reassembler.ready()
    handed += reassembler.flush()
    assert [arrival.frame for arrival in handed] == list(range(6))
    assert sum(reassembler.counters.values()) == len(stream)


def frame_bitstream(frame: int) -> Bitstream:
    """Two streams of a frame, some chunks fragmented at MTU 200 (as in ``test_reassembly``)."""
    rng = np.random.default_rng(frame)
    ssm = tuple(rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in [30, 500, 10, 0, 120])
    image = tuple(rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in [300, 40])
    return Bitstream((Stream("ssm", 0, ssm), Stream("image", 1, image)), (32, 32))


@settings(max_examples=200)
@given(st.randoms(use_true_random=False), st.integers(0, 3))
def test_reordered_and_duplicated_packets_give_the_frames_sent(random: object, copies: int) -> None:
    sent = [p for f in range(3) for p in packetize(frame_bitstream(f), RUN, 0, f, mtu=200, t_us=f * 1_000)]
    arrived = sent + [sent[i % len(sent)] for i in range(copies * 5)]
    random.shuffle(arrived)  # type: ignore[attr-defined]
    reassembler = Reassembler(3, 1_000, None, window=4)
    for packet in arrived:
        reassembler.add(packet)
    arrivals = reassembler.ready() + reassembler.flush()
    assert [a.frame for a in arrivals] == [0, 1, 2]
    for arrival in arrivals:
        expected = {s.name: list(s.chunks) for s in frame_bitstream(arrival.frame).streams}
        assert arrival.chunks == expected


# ---- every codec's decompress on damaged chunks ---------------------------------------------------

SHAPE = (48, 80)
CODEC_SETTINGS: list[tuple[str, dict[str, float]]] = [
    ("identity", {}),
    ("resize", {"factor": 4}),
    ("jpeg", {"quality": 50}),
    ("webp", {"quality": 50}),
    ("avif", {"quality": 50}),
    ("jpeg2000", {"target_bpp": 1.0}),
    ("hevc", {"quality": 30}),
    ("sqgan", {"tokens": 0.5}),
    ("gan", {"tokens": 1.0}),
    ("spic", {"quality": 40}),
    ("ssm", {"map_scale": 2}),
]
SEMANTIC = {"sqgan", "gan", "spic", "ssm"}


@cache
def checkpoint() -> str:
    """A tiny untrained semantic checkpoint (the decoder's robustness, not its quality, is tested)."""
    import tempfile
    from pathlib import Path

    return str(tiny_codec_checkpoint(Path(tempfile.mkdtemp(prefix="semlink-props-")) / "tiny.pt"))


@cache
def coded(name: str) -> tuple[object, Bitstream]:
    """The codec and one synthetic frame coded by it."""
    index = [n for n, _ in CODEC_SETTINGS].index(name)
    options = dict(CODEC_SETTINGS[index][1])
    if name in SEMANTIC:
        codec = CODECS.create(name, checkpoint=checkpoint(), device="cpu", **options)
    else:
        codec = CODECS.create(name, **options)
    frame = open_source("synthetic", "val", SHAPE, None, seed=5).frame(0)
    ssm = frame.labels if codec.uses_ssm else None
    return codec, codec.compress(frame.image, ssm)


DAMAGES = ["garbled", "truncated", "oversized", "random", "reordered", "extra", "lost"]


@st.composite
def damaged_streams(draw: st.DrawFn, bitstream: Bitstream, damage: str) -> ReceivedBitstream:
    """``bitstream`` with ``damage`` done to at least one chunk (or stream), the others kept or lost."""
    chunks: dict[str, list[bytes | None]] = {}
    streams = list(bitstream.streams)
    target = draw(st.integers(0, len(streams) - 1))
    for number, stream in enumerate(streams):
        received: list[bytes | None] = [draw(st.sampled_from([chunk, None])) for chunk in stream.chunks]
        if number == target:
            received = draw(damaged_chunks(list(stream.chunks), damage))
        chunks[stream.name] = received
    if damage == "extra" and draw(st.booleans()):
        chunks[draw(st.sampled_from(["foreign", "image", "ssm", "vq", "lowres"]))] = draw(
            st.lists(st.none() | st.binary(max_size=64), max_size=3)
        )
    return ReceivedBitstream(chunks, bitstream.shape)


@st.composite
def damaged_chunks(draw: st.DrawFn, chunks: list[bytes], damage: str) -> list[bytes | None]:
    """One stream's chunks after ``damage``."""
    received: list[bytes | None] = list(chunks)
    at = draw(st.integers(0, len(chunks) - 1))
    chunk = chunks[at]
    if damage == "garbled":
        received[at] = draw(damaged_bytes(st.just(chunk)))
    elif damage == "truncated":
        received[at] = chunk[: draw(st.integers(0, max(0, len(chunk) - 1)))]
    elif damage == "oversized":
        received[at] = chunk + draw(st.binary(min_size=1, max_size=64)) * draw(st.integers(1, 4000))
    elif damage == "random":
        received[at] = draw(st.binary(max_size=2 * len(chunk) + 8))
    elif damage == "reordered":
        received = draw(st.permutations(received))
    elif damage == "extra":
        received += draw(st.lists(st.none() | st.binary(max_size=64), min_size=1, max_size=3))
    else:
        received[at] = None
    return received


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", [n for n, _ in CODEC_SETTINGS])
def test_decompress_of_damaged_chunks_is_an_image_or_undecodable(name: str, damage: str) -> None:
    codec, bitstream = coded(name)

    @settings(max_examples=6 if name in SEMANTIC else 12, suppress_health_check=[HealthCheck.too_slow])
    @given(damaged_streams(bitstream, damage))
    def check(received: ReceivedBitstream) -> None:
        with within(CALL_BOUND_S, f"{name}.decompress"), contextlib.suppress(UndecodableError):
            image = codec.decompress(received)  # type: ignore[attr-defined]
            assert isinstance(image, np.ndarray)
            assert image.shape == (*SHAPE, 3) and image.dtype == np.uint8

    check()
