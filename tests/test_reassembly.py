"""Reassembly: loss, duplicates, reordering, lateness and garbage, with bounded memory and every frame once."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest

from semlink.codecs.base import Bitstream, ReceivedBitstream, Stream
from semlink.receiver.reassembly import COUNTER_KEYS, FrameArrival, Reassembler
from semlink.transmitter.packetizer import packetize
from semlink.wire import Packet

INTERVAL = 1_000
SIZES = [30, 500, 10, 0, 120, 7]  # at MTU 200 the 500-byte chunk becomes 3 fragments


def bitstream(frame: int) -> Bitstream:
    """Two streams whose bytes depend on the frame."""
    rng = np.random.default_rng(frame)
    ssm = tuple(rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in SIZES)
    image = tuple(rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in [300, 40, 40])
    return Bitstream((Stream("ssm", 0, ssm), Stream("image", 1, image)), (32, 32))


def frame_packets(frame: int, mtu: int = 200) -> list[Packet]:
    """The packets of one frame, sent at the frame's time."""
    return packetize(bitstream(frame), run_id=1, point=0, frame=frame, mtu=mtu, t_us=frame * INTERVAL)


def expected_chunks(frame: int) -> dict[str, list[bytes | None]]:
    """The chunks of a frame that arrived whole."""
    return {s.name: list(s.chunks) for s in bitstream(frame).streams}


def run(packets: list[Packet], frames: int, window: int = 4, deadline: int | None = None) -> list[FrameArrival]:
    """Every arrival, collected with ``ready`` after each packet and ``flush`` at the end."""
    reassembler = Reassembler(frames, INTERVAL, deadline, window=window)
    out: list[FrameArrival] = []
    for packet in packets:
        reassembler.add(packet)
        out.extend(reassembler.ready())
    return out + reassembler.flush()


def test_in_order_delivery_gives_every_chunk() -> None:
    packets = [p for f in range(6) for p in frame_packets(f)]
    arrivals = run(packets, 6)
    assert [a.frame for a in arrivals] == list(range(6))
    assert all(a.complete and a.chunks == expected_chunks(a.frame) for a in arrivals)
    assert sum(a.packets for a in arrivals) == len(packets)
    assert [(a.first_t_us, a.last_t_us) for a in arrivals] == [(f * INTERVAL, f * INTERVAL) for f in range(6)]


@pytest.mark.parametrize("lost_frag", [0, 1, 2])
def test_losing_one_fragment_loses_exactly_that_chunk(lost_frag: int) -> None:
    packets = frame_packets(0)
    fragments = [i for i, p in enumerate(packets) if p.stream == "ssm" and p.frag_count > 1]
    assert len(fragments) == 3
    del packets[fragments[lost_frag]]
    (arrival,) = run(packets, 1)
    wanted = expected_chunks(0)
    wanted["ssm"][1] = None
    assert arrival.chunks == wanted and not arrival.complete and arrival.packets == len(packets)


def test_losing_a_packet_of_whole_chunks_loses_exactly_those() -> None:
    packets = frame_packets(0)
    victim = next(p for p in packets if p.stream == "ssm" and p.chunk_count > 1)
    (arrival,) = run([p for p in packets if p is not victim], 1)
    wanted = expected_chunks(0)
    for index in range(victim.chunk_first, victim.chunk_first + victim.chunk_count):
        wanted["ssm"][index] = None
    assert arrival.chunks == wanted and not arrival.complete


@pytest.mark.parametrize("seed", range(8))
def test_duplicates_and_shuffling_change_nothing(seed: int) -> None:
    packets = [p for f in range(3) for p in frame_packets(f)]
    rng = np.random.default_rng(seed)
    extra = [packets[i] for i in rng.integers(0, len(packets), len(packets) // 2)]
    mixed = packets + extra
    rng.shuffle(mixed)
    reassembler = Reassembler(3, INTERVAL, None, window=4)
    for packet in mixed:
        reassembler.add(packet)
    assert reassembler.flush() == run(packets, 3)
    assert reassembler.counters["duplicate"] == len(extra) and reassembler.counters["accepted"] == len(packets)


@pytest.mark.parametrize("seed", range(4))
def test_reordering_within_the_window_changes_nothing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    in_order = [p for f in range(12) for p in frame_packets(f)]
    jittered = sorted(in_order, key=lambda p: p.frame + rng.uniform(0, 3.9))
    assert run(jittered, 12, window=4) == run(in_order, 12, window=4)


@pytest.mark.parametrize(("delay", "late"), [(0, False), (500, False), (501, True)])
def test_packets_past_the_deadline_are_dropped(delay: int, late: bool) -> None:
    packets = frame_packets(3)
    packets[0] = dataclasses.replace(packets[0], t_us=3 * INTERVAL + delay)
    reassembler = Reassembler(4, INTERVAL, deadline_us=500)
    for packet in packets:
        reassembler.add(packet)
    arrival = reassembler.flush()[3]
    assert reassembler.counters["late"] == int(late)
    assert arrival.complete is not late
    assert (arrival.chunks["ssm"][0] is None) is late


def test_packets_of_closed_frames_are_late() -> None:
    first, rest = frame_packets(0)[:1], frame_packets(0)[1:]
    reassembler = Reassembler(10, INTERVAL, None, window=4)
    reassembler.add(first[0])
    reassembler.add(frame_packets(3)[0])
    assert reassembler.ready() == []
    reassembler.add(frame_packets(4)[0])
    (closed,) = reassembler.ready()
    assert closed.frame == 0 and closed.packets == 1 and not closed.complete
    for packet in rest:
        reassembler.add(packet)
    assert reassembler.counters["late"] == len(rest) and reassembler.ready() == []


def test_frames_never_seen_are_emitted_empty() -> None:
    arrivals = run(frame_packets(2) + frame_packets(5), 8)
    assert [a.frame for a in arrivals] == list(range(8))
    for arrival in arrivals:
        if arrival.frame in (2, 5):
            assert arrival.complete and arrival.chunks == expected_chunks(arrival.frame)
        else:
            assert arrival == FrameArrival(arrival.frame)
            assert not arrival.complete and arrival.packets == 0 and arrival.first_t_us is None


@pytest.mark.parametrize("window", [1, 2, 4, 7])
@pytest.mark.parametrize("seed", range(3))
def test_every_frame_comes_out_once_in_order_as_the_stream_moves_on(window: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = 20
    sent = [f for f in range(frames) if rng.random() > 0.3]
    reassembler = Reassembler(frames, INTERVAL, None, window=window)
    emitted: list[int] = []
    horizon = -1
    for frame in sent:
        for packet in frame_packets(frame):
            reassembler.add(packet)
            horizon = max(horizon, frame)
            emitted.extend(a.frame for a in reassembler.ready())
            assert emitted == list(range(max(0, horizon - window + 1)))
    emitted.extend(a.frame for a in reassembler.flush())
    assert emitted == list(range(frames)) and reassembler.flush() == []


@pytest.mark.parametrize("frame", [8, 9, 2**31 - 1])
def test_frames_outside_the_point_are_bad_frame(frame: int) -> None:
    reassembler = Reassembler(8, INTERVAL, None)
    for packet in frame_packets(0):
        reassembler.add(dataclasses.replace(packet, frame=frame))
    assert reassembler.counters["bad-frame"] == len(frame_packets(0))
    assert reassembler.ready() == [] and len(reassembler.flush()) == 8


def _chunks_payload(total: int, chunks: list[bytes]) -> bytes:
    return struct.pack(">H", total) + b"".join(struct.pack(">I", len(c)) for c in chunks) + b"".join(chunks)


@pytest.mark.parametrize(
    ("second", "outcome"),
    [
        (Packet(0, 0, 0, "s", 1, 1, 0, 1, 0, _chunks_payload(3, [b"b"])), "accepted"),
        (Packet(0, 0, 0, "s", 1, 1, 0, 1, 0, _chunks_payload(4, [b"b"])), "inconsistent"),
        (Packet(0, 0, 0, "s", 2, 2, 0, 1, 0, _chunks_payload(3, [b"c", b"d"])), "inconsistent"),
        (Packet(0, 0, 0, "s", 0, 1, 0, 1, 0, _chunks_payload(3, [b"a"])), "duplicate"),
        (Packet(0, 0, 0, "s", 0, 2, 0, 1, 0, _chunks_payload(3, [b"a", b"b"])), "accepted"),
        (Packet(0, 0, 0, "s", 0, 1, 1, 2, 0, _chunks_payload(3, [])), "duplicate"),
        (Packet(0, 0, 0, "t", 5, 1, 0, 1, 0, _chunks_payload(3, [b"x"])), "inconsistent"),
        (Packet(0, 0, 0, "s", 1, 1, 0, 1, 0, b""), "bad-payload"),
        (Packet(0, 0, 0, "s", 1, 1, 0, 1, 0, b"\x00"), "bad-payload"),
        (Packet(0, 0, 0, "s", 1, 2, 0, 1, 0, b"\x00\x03\x00\x00\x00\x01"), "bad-payload"),
        (Packet(0, 0, 0, "s", 1, 1, 0, 1, 0, _chunks_payload(3, [b"b"]) + b"!"), "bad-payload"),
        (Packet(0, 0, 0, "s", 1, 1, 0, 1, 0, _chunks_payload(3, [b"b"])[:-1]), "bad-payload"),
        (Packet(0, 0, 0, "s", 1, 2, 0, 2, 0, _chunks_payload(3, [])), "bad-payload"),
        (Packet(0, 0, 0, "s", 1, 1, 2, 2, 0, _chunks_payload(3, [])), "bad-payload"),
    ],
)
def test_each_packet_is_counted_once_with_its_outcome(second: Packet, outcome: str) -> None:
    reassembler = Reassembler(1, INTERVAL, None)
    reassembler.add(Packet(0, 0, 0, "s", 0, 1, 0, 1, 0, _chunks_payload(3, [b"a"])))
    reassembler.add(second)
    expected = dict.fromkeys(COUNTER_KEYS, 0)
    expected["accepted"] = 1
    expected[outcome] += 1
    assert reassembler.counters == expected
    (arrival,) = reassembler.flush()
    assert arrival.chunks["s"][0] == b"a" and len(arrival.chunks["s"]) == 3


def test_fragments_must_agree_on_their_count() -> None:
    reassembler = Reassembler(1, INTERVAL, None)
    reassembler.add(Packet(0, 0, 0, "s", 0, 1, 0, 2, 0, b"\x00\x01ab"))
    reassembler.add(Packet(0, 0, 0, "s", 0, 1, 1, 3, 0, b"\x00\x01cd"))
    reassembler.add(Packet(0, 0, 0, "s", 0, 1, 0, 2, 0, b"\x00\x01ab"))
    reassembler.add(Packet(0, 0, 0, "s", 0, 1, 1, 2, 0, b"\x00\x01ef"))
    assert reassembler.counters["inconsistent"] == 1 and reassembler.counters["duplicate"] == 1
    assert reassembler.flush()[0].chunks == {"s": [b"abef"]}


def test_frame_budget_drops_what_does_not_fit() -> None:
    reassembler = Reassembler(1, INTERVAL, None, max_frame_bytes=1_000)
    for packet in frame_packets(0):
        reassembler.add(packet)
        assert reassembler.buffered_bytes <= 1_000
    assert reassembler.counters["inconsistent"] > 0 and reassembler.counters["accepted"] > 0
    (arrival,) = reassembler.flush()
    assert not arrival.complete and arrival.chunks["ssm"][:2] == expected_chunks(0)["ssm"][:2]


def _garbage_packet(rng: np.random.Generator, base: int) -> Packet:
    """A packet with a plausible-to-absurd frame, stream, indices and framing."""
    frame = int(rng.choice([base + int(rng.integers(-2, 3)), int(rng.integers(0, 10**6))], p=[0.95, 0.05]))
    stream = str(rng.choice(["a", "b", "c", f"s{rng.integers(0, 500)}"]))
    total = int(rng.choice([1, 3, 50, 65_535]))
    first = int(rng.integers(0, total + 2))
    if rng.random() < 0.3:
        frag_count = int(rng.integers(2, 4_097))
        payload = struct.pack(">H", total) + bytes(int(rng.integers(0, 1_400)))
        return Packet(0, 0, max(frame, 0), stream, first, 1, int(rng.integers(0, frag_count)), frag_count, 0, payload)
    chunks = [bytes(int(rng.integers(0, 300))) for _ in range(int(rng.integers(1, 6)))]
    payload = _chunks_payload(total, chunks)[: None if rng.random() < 0.9 else int(rng.integers(0, 40))]
    return Packet(0, 0, max(frame, 0), stream, first, len(chunks), 0, 1, 0, payload)


@pytest.mark.parametrize("window", [1, 3])
def test_memory_stays_bounded_under_garbage(window: int) -> None:
    rng = np.random.default_rng(1234)
    budget, frames, peak = 10_000, 120, 0
    reassembler = Reassembler(frames, INTERVAL, None, window=window, max_frame_bytes=budget)
    arrivals: list[FrameArrival] = []
    for i in range(10_000):
        reassembler.add(_garbage_packet(rng, base=i // 100))
        assert reassembler.open_frames <= window + 1
        assert reassembler.buffered_bytes <= reassembler.open_frames * budget
        peak = max(peak, reassembler.buffered_bytes)
        if i % 50 == 0:
            arrivals.extend(reassembler.ready())
    arrivals.extend(reassembler.flush())
    assert [a.frame for a in arrivals] == list(range(frames))
    assert sum(reassembler.counters.values()) == 10_000 and reassembler.counters["accepted"] > 500
    assert peak > 0.9 * budget  # the budget was actually reached, not just never approached
    for arrival in arrivals:
        held = sum(8 + len(c or b"") for chunks in arrival.chunks.values() for c in chunks)
        assert held <= budget


def test_outputs_depend_only_on_the_packets() -> None:
    def once() -> tuple[list[FrameArrival], dict[str, int]]:
        rng = np.random.default_rng(7)
        reassembler = Reassembler(40, INTERVAL, 3_000, window=2, max_frame_bytes=20_000)
        out: list[FrameArrival] = []
        for i in range(2_000):
            reassembler.add(_garbage_packet(rng, base=i // 50))
            out.extend(reassembler.ready())
        return out + reassembler.flush(), dict(reassembler.counters)

    assert once() == once()


def test_received_gives_the_codec_input() -> None:
    packets = frame_packets(0)
    (arrival,) = run(packets[1:], 1)
    received = arrival.received((32, 32))
    assert isinstance(received, ReceivedBitstream) and received.shape == (32, 32)
    assert received.chunks == arrival.chunks and received.stream("ssm") is not arrival.chunks["ssm"]
    assert FrameArrival(0).received((4, 4)).stream("ssm") == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"expected_frames": -1},
        {"frame_interval_us": -1},
        {"deadline_us": -1},
        {"window": 0},
        {"max_frame_bytes": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, int]) -> None:
    settings: dict[str, int | None] = {"expected_frames": 4, "frame_interval_us": INTERVAL, "deadline_us": None}
    with pytest.raises(ValueError, match="must be"):
        Reassembler(**{**settings, **kwargs})
