"""The wire format: exact round trips, and a WireError with the right reason for any bad bytes."""

from __future__ import annotations

import dataclasses
import pickle
import zlib
from typing import Any

import msgpack
import numpy as np
import pytest

from semlink.wire.crc import crc_field
from semlink.wire.format import Decoded, decode, encode
from semlink.wire.limits import REASONS, Limits, WireError
from semlink.wire.packets import RUN_IDS, VERSION, Control, Packet, restamp

PACKET = Packet(7, 3, 12, "image", 4, 2, 0, 1, 123_456, b"\x00\x02payload")
FRAGMENT = Packet(2**40, 0, 0, "ssm", 9, 1, 3, 5, 0, bytes(range(256)) * 4)
EDGES = Packet(2**63 - 1, 2**31 - 1, 2**31 - 1, "a" * 16, 65_534, 1, 4_095, 4_096, 2**63 - 1, b"")
CONTROLS = [
    Control("point-start", 1, 0, {}),
    Control("point-end", 1, 5, {"packets": 12, "bpp": 0.25, "ok": True, "note": None, "name": "jpeg-q50"}),
    Control("end", 0, 0, {"nested": {"list": [1, -2, 3.5, "x", [None, False]], "é": "ünïcode"}}),
]
PACKET_NAMES = ["run_id", "point", "frame", "stream", "chunk_first", "chunk_count", "frag", "frag_count", "t_us"]


def raw(items: list[Any], crc: int | None = None) -> bytes:
    """Encode ``items`` by hand with a correct CRC (or the given one) appended."""
    if crc is None:
        crc = zlib.crc32(msgpack.packb(items, use_bin_type=True))
    return msgpack.packb([*items, crc], use_bin_type=True)


def packet_items(**changes: Any) -> list[Any]:
    """The wire array of :data:`PACKET` without its CRC, with fields replaced by name."""
    values = [getattr(PACKET, name) for name in PACKET_NAMES]
    items = [VERSION, *values, PACKET.payload]
    for name, value in changes.items():
        items[1 + PACKET_NAMES.index(name) if name in PACKET_NAMES else len(items) - 1] = value
    return items


def reason_of(data: Any, **kwargs: Any) -> str:
    """The reason ``decode`` rejects ``data`` with (fails if it accepts it or raises anything else)."""
    with pytest.raises(WireError) as info:
        decode(data, **kwargs)
    assert info.value.reason in REASONS
    return info.value.reason


@pytest.mark.parametrize("message", [PACKET, FRAGMENT, EDGES, *CONTROLS])
def test_round_trip_is_exact(message: Packet | Control) -> None:
    data = encode(message)
    assert decode(data) == Decoded(message, crc_ok=True)
    assert decode(bytearray(data)).message == message and decode(memoryview(data)).message == message


@pytest.mark.parametrize("message", [PACKET, CONTROLS[1]])
def test_encoding_is_the_documented_array(message: Packet | Control) -> None:
    items = msgpack.unpackb(encode(message), raw=False)
    assert items[0] == VERSION
    assert items[-1] == zlib.crc32(msgpack.packb(items[:-1], use_bin_type=True))
    assert len(items) == (12 if isinstance(message, Packet) else 7)


def test_restamp_changes_only_the_time() -> None:
    moved = restamp(PACKET, 999)
    assert moved.t_us == 999 and moved.payload == PACKET.payload and moved.frame == PACKET.frame
    assert decode(encode(moved)).message == moved


@pytest.mark.parametrize("seed", range(300))
def test_random_bytes_raise_only_wire_errors(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
    if seed % 2:
        data = bytes([0x9C]) + data  # looks like a 12-element array: exercises the field checks
    assert reason_of(data) in REASONS


@pytest.mark.parametrize("message", [PACKET, CONTROLS[2]])
def test_every_truncation_is_not_msgpack(message: Packet | Control) -> None:
    data = encode(message)
    assert {reason_of(data[:n]) for n in range(len(data))} == {"not-msgpack"}


def test_trailing_garbage_is_not_msgpack() -> None:
    assert reason_of(encode(PACKET) + b"\x00") == "not-msgpack"
    assert reason_of(encode(PACKET) * 2) == "not-msgpack"


@pytest.mark.parametrize("message", [PACKET, CONTROLS[1]])
def test_every_single_bit_flip_is_rejected(message: Packet | Control) -> None:
    data = bytearray(encode(message))
    reasons = []
    for bit in range(8 * len(data)):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        reasons.append(reason_of(bytes(flipped)))
    assert "bad-crc" in reasons and reasons.count("bad-crc") > len(reasons) // 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xdd\xff\xff\xff\xff", "too-large"),  # an array of 2**32 - 1 elements
        (b"\xdf\xff\xff\xff\xff", "too-large"),  # a map of 2**32 - 1 entries
        (b"\xc6\x7f\xff\xff\xff" + b"x" * 10, "not-msgpack"),  # a 2 GiB bin that is not there
        (b"\xc6\x00\x01\x00\x01" + b"x" * 65_537, "too-large"),  # a bin over max_payload, present
        (b"\x00" * 70_001, "too-large"),  # over max_message_bytes
        (b"\x91" * 3_000 + b"\xc0", "not-msgpack"),  # nesting deeper than msgpack's stack
        (b"", "not-msgpack"),
        (b"\xc1", "not-msgpack"),  # the never-used byte
    ],
)
def test_absurd_sizes(data: bytes, reason: str) -> None:
    assert reason_of(data) == reason


def test_payload_over_a_smaller_limit_is_too_large() -> None:
    data = encode(Packet(0, 0, 0, "image", 0, 1, 0, 1, 0, b"x" * 200))
    assert reason_of(data, limits=Limits(max_payload=100)) == "too-large"
    assert reason_of(data, limits=Limits(max_message_bytes=100)) == "too-large"
    with pytest.raises(WireError, match="too-large"):
        encode(Packet(0, 0, 0, "image", 0, 1, 0, 1, 0, b"x" * 200), Limits(max_payload=100))


def test_control_body_over_its_limit_is_too_large() -> None:
    data = encode(Control("point-start", 0, 0, {f"k{i}": i for i in range(100)}))
    assert reason_of(data, limits=Limits(max_control_bytes=200)) == "too-large"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("run_id", True, "bad-type"),
        ("run_id", -1, "bad-value"),
        ("run_id", 2**64 - 1, "bad-value"),
        ("point", 1.0, "bad-type"),
        ("point", 2**31, "bad-value"),
        ("frame", "12", "bad-type"),
        ("frame", False, "bad-type"),
        ("frame", 2**31, "bad-value"),
        ("stream", b"image", "bad-type"),
        ("stream", "", "bad-value"),
        ("stream", "x" * 17, "bad-value"),
        ("stream", "bildé", "bad-value"),
        ("stream", "a\nb", "bad-value"),
        ("chunk_first", None, "bad-type"),
        ("chunk_first", 65_534, "bad-value"),
        ("chunk_count", 0, "bad-value"),
        ("chunk_count", [1], "bad-type"),
        ("frag", 1, "bad-value"),
        ("frag", -1, "bad-value"),
        ("frag_count", 0, "bad-value"),
        ("frag_count", 4_097, "bad-value"),
        ("frag_count", 2, "bad-value"),  # a fragment must carry exactly one chunk (PACKET has 2)
        ("t_us", -5, "bad-value"),
        ("t_us", {"a": 1}, "bad-type"),
        ("payload", "text", "bad-type"),
        ("payload", [1, 2], "bad-type"),
    ],
)
def test_bad_packet_fields(field: str, value: Any, reason: str) -> None:
    assert reason_of(raw(packet_items(**{field: value}))) == reason
    assert reason_of(raw(packet_items(**{field: value})), accept_bad_crc=True) == reason


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([VERSION, "ctl", "pause", 0, 0, {}], "bad-value"),
        ([VERSION, "ctl", 3, 0, 0, {}], "bad-type"),
        ([VERSION, "ctl", "end", -1, 0, {}], "bad-value"),
        ([VERSION, "ctl", "end", 0, True, {}], "bad-type"),
        ([VERSION, "ctl", "end", 0, 0, [1, 2]], "bad-type"),
        ([VERSION, "ctl", "end", 0, 0, {"a": b"bytes"}], "bad-type"),
        ([VERSION, "ctl", "end", 0, 0, {b"key": 1}], "bad-type"),
        ([VERSION, "ctl", "end", 0, 0, {"a": msgpack.ExtType(5, b"x")}], "bad-type"),
    ],
)
def test_bad_control_fields(items: list[Any], reason: str) -> None:
    assert reason_of(raw(items)) == reason


def test_deeply_nested_body_is_bad_value() -> None:
    body: dict[str, Any] = {"leaf": 1}
    for _ in range(100):
        body = {"x": [body]}
    assert reason_of(raw([VERSION, "ctl", "end", 0, 0, body])) == "bad-value"
    with pytest.raises(WireError, match="bad-value"):
        encode(Control("end", 0, 0, body))


def test_every_packet_of_one_shape_has_one_size_whatever_its_crc() -> None:
    """The CRC is a fixed-width uint32: msgpack's shortest form made a packet 2 bytes shorter when
    its (run-id dependent) CRC was under 2**16, and bpp_wire changed between runs of one seed."""
    sizes = set()
    low_crc_seen = False
    for run_id in range(RUN_IDS[0], RUN_IDS[0] + 200_000):
        data = encode(dataclasses.replace(PACKET, run_id=run_id))
        sizes.add(len(data))
        if int.from_bytes(data[-4:], "big") < 2**16:
            low_crc_seen = True
            break
    assert low_crc_seen and len(sizes) == 1
    assert crc_field(5) == b"\xce\x00\x00\x00\x05"


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (0, "bad-version"),
        (1, "bad-version"),
        (3, "bad-version"),
        (2**40, "bad-version"),
        ("1", "bad-type"),
        (True, "bad-type"),
    ],
)
def test_wrong_version(version: Any, reason: str) -> None:
    assert reason_of(raw([version, *packet_items()[1:]])) == reason
    assert reason_of(raw([version, "ctl", "end", 0, 0, {}])) == reason


@pytest.mark.parametrize(
    "obj",
    [
        5,
        "packet",
        {"version": 1},
        [],
        [VERSION],
        [VERSION, "ctl", "end", 0, 0, {}, 0, 0],
        [VERSION, "xxx", "end", 0, 0, {}, 0],
        [*packet_items()[:-1], 0],  # 11 elements
    ],
)
def test_bad_shape(obj: Any) -> None:
    assert reason_of(msgpack.packb(obj, use_bin_type=True)) == "bad-shape"


def test_bad_crc_field_type_and_range() -> None:
    assert reason_of(raw(packet_items(), crc=True)) == "bad-type"
    assert reason_of(msgpack.packb([*packet_items(), "crc"], use_bin_type=True)) == "bad-type"
    assert reason_of(raw(packet_items(), crc=2**32)) == "bad-value"


@pytest.mark.parametrize("message", [PACKET, FRAGMENT])
def test_accept_bad_crc_returns_a_marked_packet(message: Packet) -> None:
    items = msgpack.unpackb(encode(message), raw=False)
    data = raw(items[:-1], crc=items[-1] ^ 1)
    assert reason_of(data) == "bad-crc"
    assert decode(data, accept_bad_crc=True) == Decoded(message, crc_ok=False)


def test_accept_bad_crc_still_rejects_control_messages() -> None:
    items = msgpack.unpackb(encode(CONTROLS[1]), raw=False)
    data = raw(items[:-1], crc=items[-1] ^ 1)
    assert reason_of(data) == "bad-crc"
    assert reason_of(data, accept_bad_crc=True) == "bad-crc"


def test_flipped_payload_bit_is_accepted_only_when_asked() -> None:
    data = bytearray(encode(PACKET))
    data[-8] ^= 0x10  # inside the payload, before the 5-byte CRC
    assert reason_of(bytes(data)) == "bad-crc"
    decoded = decode(bytes(data), accept_bad_crc=True)
    assert not decoded.crc_ok and isinstance(decoded.message, Packet)
    assert decoded.message.payload != PACKET.payload and decoded.message.frame == PACKET.frame


@pytest.mark.parametrize("data", ["text", 12, None, [1, 2]])
def test_non_bytes_input_is_bad_type(data: Any) -> None:
    assert reason_of(data) == "bad-type"


@pytest.mark.parametrize(
    "message",
    [
        Packet(0, 0, -1, "image", 0, 1, 0, 1, 0, b""),
        Packet(0, 0, 0, "image", 0, 2, 0, 2, 0, b""),
        Packet(0, 0, 0, "", 0, 1, 0, 1, 0, b""),
        Packet(0, 0, True, "image", 0, 1, 0, 1, 0, b""),
        Control("pause", 0, 0, {}),
        Control("end", 0, 0, {"a": (1, 2)}),
        Control("end", 0, 0, {"a": 2**64}),
    ],
)
def test_encode_refuses_what_decode_would_reject(message: Packet | Control) -> None:
    with pytest.raises(WireError):
        encode(message)


@pytest.mark.parametrize("message", ["packet", None, {"kind": "end"}])
def test_encode_refuses_other_objects(message: Any) -> None:
    with pytest.raises(WireError, match="bad-type"):
        encode(message)


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_error_message_is_one_line_and_pickles(reason: str) -> None:
    error = WireError(reason, "first line\nsecond line")
    assert "\n" not in str(error) and reason in str(error) and "second line" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, WireError) and again.reason == reason and str(again) == str(error)
    assert isinstance(error, ValueError)


def test_unknown_reason_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown wire error reason"):
        WireError("bad-mood")
