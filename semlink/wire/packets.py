"""The two messages of the wire, as Python values: a data :class:`Packet` and a :class:`Control`
envelope, with the layout of their wire arrays (the CRC is added by
:func:`~semlink.wire.format.encode`)::

    packet   [VERSION, run_id, point, frame, stream, chunk_first, chunk_count, frag, frag_count, t_us, payload]
    control  [VERSION, "ctl", kind, run_id, point, body]
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any

from semlink.wire.limits import WireError

VERSION = 2
CONTROL_TAG = "ctl"
CONTROL_KINDS = ("point-start", "point-end", "end")
PACKET_FIELDS = 12
CONTROL_FIELDS = 7
"""Elements of each wire array, its CRC included."""

RUN_FIELD = 1
POINT_FIELD = 2
FRAME_FIELD = 3
STREAM_FIELD = 4
CHUNK_COUNT_FIELD = 6
FRAG_COUNT_FIELD = 8
T_US_FIELD = 9
PAYLOAD_FIELD = 10
"""Positions of packet fields in the wire array (for relays that do not parse the rest)."""

RUN_IDS = (2**62, 2**63 - 1)
"""Run ids a run draws from: every one encodes in the same 9 msgpack bytes, so packet sizes (and
the numbers that depend on them) do not change from one run to the next."""


def new_run_id() -> int:
    """A fresh run id from the operating system's randomness: other processes cannot guess it."""
    low, high = RUN_IDS
    return low + secrets.randbelow(high - low + 1)


@dataclass(frozen=True)
class Packet:
    """One datagram of a frame's stream.

    :param run_id: the run this packet belongs to.
    :param point: the sweep point within the run.
    :param frame: the frame index within the point.
    :param stream: the stream name (``image``, ``ssm``, ...).
    :param chunk_first: index of the first chunk carried.
    :param chunk_count: number of whole chunks carried (1 for a fragment).
    :param frag: fragment index, ``0 <= frag < frag_count``.
    :param frag_count: fragments of the chunk (1 = not fragmented).
    :param t_us: simulated time in µs: send time at the transmitter, arrival time after the channel.
    :param payload: the framed chunk bytes (see :mod:`semlink.wire.framing`).
    """

    run_id: int
    point: int
    frame: int
    stream: str
    chunk_first: int
    chunk_count: int
    frag: int
    frag_count: int
    t_us: int
    payload: bytes


@dataclass(frozen=True)
class Control:
    """The envelope of a control message (stages use the typed ones of :mod:`semlink.wire.messages`).

    :param kind: ``point-start``, ``point-end`` or ``end``.
    :param run_id: the run.
    :param point: the sweep point.
    :param body: JSON-like data (str keys; None, bool, int, float, str, lists and dicts of those).
    """

    kind: str
    run_id: int
    point: int
    body: dict[str, Any]


def restamp(packet: Packet, t_us: int) -> Packet:
    """The same packet with its simulated time replaced (the channel's arrival time).

    :param packet: the packet.
    :param t_us: the new time in µs.
    """
    return dataclasses.replace(packet, t_us=t_us)


def wire_items(message: Packet | Control) -> list[Any]:
    """The wire array of ``message`` without its CRC.

    :raises WireError: ``bad-type`` for anything but a packet or a control envelope.
    """
    if isinstance(message, Packet):
        m = message
        fields = [m.run_id, m.point, m.frame, m.stream, m.chunk_first, m.chunk_count, m.frag, m.frag_count, m.t_us]
        return [VERSION, *fields, m.payload]
    if isinstance(message, Control):
        return [VERSION, CONTROL_TAG, message.kind, message.run_id, message.point, message.body]
    raise WireError("bad-type", f"cannot encode a {type(message).__name__}")
