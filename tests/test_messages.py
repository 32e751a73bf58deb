"""Typed control messages: exact round trips, and every malformed body refused with a counted reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from semlink.wire import (
    End,
    Packet,
    PointEnd,
    PointStart,
    WireError,
    decode_message,
    encode_message,
)
from semlink.wire.format import encode
from semlink.wire.packets import Control
from tests.test_stages import build

END = PointEnd(3, 2, "k", 7, 4_000, 5_000, (3, 4), (1_000, 3_000), ({"quality": 50.0}, {"tokens": 0.25}))
MESSAGES = [
    PointStart(3, 2, "key-with-ünïcode", 20),
    END,
    END.with_channel({"packets": 7.0, "mcs_sum": 42.0}),
    END.with_channel({}, {"dropped:foreign-run": 3, "dropped:bad-crc": 1}),
    End(3),
    Packet(3, 2, 0, "image", 0, 1, 0, 1, 5, b"\x00\x01\x00\x00\x00\x00"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_typed_messages_round_trip(message: Any) -> None:
    received = decode_message(encode_message(message))
    assert received.message == message and received.crc_ok


GOOD_END: dict[str, Any] = {
    "key": "k",
    "packets_sent": 1,
    "payload_bits": 8,
    "wire_bits": 16,
    "frame_packets": [1],
    "frame_bits": [8],
    "frame_settings": [{}],
}
MALFORMED = [
    ("point-start", {"frames": 3}, "lacks 'key'"),
    ("point-start", {"key": "k"}, "lacks 'frames'"),
    ("point-start", {"key": 5, "frames": 3}, "key is int"),
    ("point-start", {"key": "k", "frames": -1}, "not a count"),
    ("point-start", {"key": "k", "frames": True}, "not a count"),
    ("point-start", {"key": "k", "frames": 3, "colour": "red"}, "unknown field 'colour'"),
    ("end", {"key": "k"}, "unknown field 'key'"),
    ("point-end", {**GOOD_END, "packets_sent": 1.5}, "packets_sent is 1.5"),
    ("point-end", {k: v for k, v in GOOD_END.items() if k != "wire_bits"}, "lacks 'wire_bits'"),
    ("point-end", {**GOOD_END, "frame_bits": "8"}, "frame_bits is str"),
    ("point-end", {**GOOD_END, "frame_bits": [8, "x"]}, "other than counts"),
    ("point-end", {**GOOD_END, "frame_bits": [8, 8]}, "differ in length"),
    ("point-end", {**GOOD_END, "frame_settings": [{"quality": "high"}]}, "finite numbers"),
    ("point-end", {**GOOD_END, "dropped": {"dropped:bad-crc": 1.5}}, "names to counts"),
    ("point-end", {**GOOD_END, "dropped": [1]}, "names to counts"),
    ("point-end", {**GOOD_END, "frame_settings": [[]]}, "finite numbers"),
    ("point-end", {**GOOD_END, "channel": {"mcs": float("nan")}}, "finite numbers"),
]


@pytest.mark.parametrize(("kind", "body", "says"), MALFORMED)
def test_malformed_control_bodies_are_bad_control(kind: str, body: dict[str, Any], says: str) -> None:
    with pytest.raises(WireError, match=says) as error:
        decode_message(encode(Control(kind, 3, 2, body)))
    assert error.value.reason == "bad-control"


@pytest.mark.parametrize(("kind", "body", "says"), MALFORMED)
def test_each_stage_counts_a_malformed_control_and_goes_on(
    kind: str, body: dict[str, Any], says: str, tmp_path: Path
) -> None:
    _, _, channel, receiver, reports = build(tmp_path, "{model: ideal}")
    data = encode(Control(kind, 1, 0, body))
    assert channel.process([data]) == []
    receiver.handle([data])
    assert channel.counters["dropped:bad-control"] == 1
    assert receiver.counters["rejected:bad-control"] == 1
    assert reports == [] and not receiver.finished


def test_encode_message_refuses_an_envelope_or_other_objects() -> None:
    for thing in (Control("end", 0, 0, {}), {"kind": "end"}, None):
        with pytest.raises(WireError, match="bad-type"):
            encode_message(thing)  # type: ignore[arg-type]
