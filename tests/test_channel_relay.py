"""The channel stage's relay of whole socket messages: unchanged bytes where nothing changed."""

from __future__ import annotations

import random

import pytest

from semlink.channel.base import CHANNELS
from semlink.channel.impairments import Impairments
from semlink.channel.node import ChannelPlan, ChannelStage
from semlink.wire import End, Packet, PointEnd, PointStart, encode_message, pack_parts, unpack_parts

RUN = 123_456_789
KEY = "point-key"


def stage(model: str = "ideal", impairments: Impairments | None = None, **settings: float) -> ChannelStage:
    """A channel stage with one open point of ``model``."""
    plan = ChannelPlan(KEY, lambda: CHANNELS.create(model, **settings), impairments or Impairments(), (1,))
    relay = ChannelStage({0: plan}, RUN)
    assert relay.relay_message([pack_parts([encode_message(PointStart(RUN, 0, KEY, 3))])]) is not None
    return relay


def frame(count: int = 5, run_id: int = RUN, t_us: int = 1000) -> list[bytes]:
    """``count`` encoded packets of one frame."""
    maker = random.Random(count)
    return [
        encode_message(Packet(run_id, 0, 1, "tokens", index, 1, 0, 1, t_us, maker.randbytes(100)))
        for index in range(count)
    ]


def test_an_ideal_point_forwards_the_message_as_it_came() -> None:
    relay = stage()
    assert relay.transparent
    message = pack_parts(frame())
    assert relay.relay_message([message]) is message
    assert relay.counters["delivered"] == 5


def test_a_foreign_packet_in_an_ideal_frame_is_dropped_and_the_rest_repacked() -> None:
    relay = stage()
    packets = frame()
    mixed = [*packets[:2], frame(1, run_id=RUN + 1)[0], *packets[2:]]
    out = relay.relay_message([pack_parts(mixed)])
    assert out is not None and unpack_parts(out).parts == packets
    assert relay.counters["dropped:foreign-run"] == 1 and relay.counters["delivered"] == 5


def test_a_damaged_packet_on_an_ideal_point_goes_on_for_the_receiver_to_reject() -> None:
    """The transparent relay reads only a packet's first bytes; the CRC is the receiver's to check."""
    relay = stage()
    packets = frame()
    packets[1] = packets[1][:-10] + bytes(10)
    message = pack_parts(packets)
    assert relay.relay_message([message]) is message


@pytest.mark.parametrize("stray", [b"junk", encode_message(End(RUN + 1))])
def test_what_is_not_this_runs_packet_is_read_in_full_on_an_ideal_point(stray: bytes) -> None:
    relay = stage()
    assert relay.relay_message([pack_parts([stray])]) is None
    assert sum(count for name, count in relay.counters.items() if name.startswith("dropped:")) == 1


def test_control_messages_still_act_on_an_ideal_point() -> None:
    relay = stage()
    relay.relay_message([pack_parts(frame())])
    end = pack_parts([encode_message(PointEnd(RUN, 0, KEY, 5, 800, 900, (5,), (800,), ({},)))])
    assert relay.relay_message([end]) is end
    assert relay.relay_message([pack_parts([encode_message(End(RUN))])]) is not None and relay.ended


def test_impairments_make_a_point_opaque() -> None:
    relay = stage(impairments=Impairments(delay_ms=5.0))
    assert not relay.transparent
    out = relay.relay_message([pack_parts(frame())])
    assert out is not None and len(unpack_parts(out).parts) == 5
    assert all(b != a for a, b in zip(frame(), unpack_parts(out).parts, strict=True))  # restamped


def test_a_lossy_point_that_lost_nothing_forwards_the_message_as_it_came() -> None:
    relay = stage("bernoulli", loss=0.0)
    assert not relay.transparent
    message = pack_parts(frame())
    assert relay.relay_message([message]) is message


def test_a_lossy_point_repacks_what_survived() -> None:
    relay = stage("bernoulli", loss=1.0)
    assert relay.relay_message([pack_parts(frame())]) is None
    assert relay.counters["erased"] == 5
