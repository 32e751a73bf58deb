"""Typed control messages: what the three processes tell each other about a point.

Each message is a dataclass whose fields are its body; :func:`encode_message` puts it in a
:class:`~semlink.wire.packets.Control` envelope and :func:`decode_message` checks every field of a
body it reads back, so a stage gets a :class:`Packet`, :class:`PointStart`, :class:`PointEnd` or
:class:`End` and nothing else. A body with a missing, unknown or mistyped field raises
:class:`WireError` with reason ``bad-control`` (counted by the receiving stage).

One point on the wire::

    PointStart(run, point, key, frames)  -> the frames' packets -> PointEnd(run, point, key, totals)
    ... every point ...                  -> End(run)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from semlink.wire.format import decode, encode
from semlink.wire.limits import DEFAULT_LIMITS, Limits, WireError
from semlink.wire.packets import Control, Packet

MAX_COUNT = 2**63 - 1


@dataclass(frozen=True)
class PointStart:
    """The transmitter opens a point.

    :param run_id: the run. :param point: the unit's number in the run.
    :param key: the unit's stable key (the other stages check it against their plans).
    :param frames: frames the point will send.
    """

    run_id: int
    point: int
    key: str
    frames: int

    kind: ClassVar[str] = "point-start"


@dataclass(frozen=True)
class PointEnd:
    """The transmitter closes a point with what it sent; the channel may add its radio's totals.

    :param run_id: the run. :param point: the unit's number. :param key: the unit's key.
    :param packets_sent: packets of the point. :param payload_bits: chunk bits (what bpp counts).
    :param wire_bits: bits of the encoded packets (headers included).
    :param frame_packets: ``[frames]`` packets of each frame.
    :param frame_bits: ``[frames]`` chunk bits of each frame.
    :param frame_settings: ``[frames]`` what the codec chose for each frame (``quality``, ``tokens``, ...).
    :param channel: the radio's totals over the point (``mcs``, ``harq_tx_mean``, ...), added by the channel.
    :param dropped: messages the channel dropped since the previous point ended, by reason
        (``dropped:foreign-run``, ...), added by the channel.
    """

    run_id: int
    point: int
    key: str
    packets_sent: int
    payload_bits: int
    wire_bits: int
    frame_packets: tuple[int, ...]
    frame_bits: tuple[int, ...]
    frame_settings: tuple[dict[str, float], ...]
    channel: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    kind: ClassVar[str] = "point-end"

    def with_channel(self, stats: dict[str, float], dropped: dict[str, int] | None = None) -> PointEnd:
        """The same message with the radio's totals and the channel's drops."""
        return dataclasses.replace(self, channel=dict(stats), dropped=dict(dropped or {}))


@dataclass(frozen=True)
class End:
    """The transmitter is done: no more points in this run.

    :param run_id: the run.
    """

    run_id: int

    kind: ClassVar[str] = "end"


ControlMessage = PointStart | PointEnd | End
Message = Packet | PointStart | PointEnd | End


@dataclass(frozen=True)
class Received:
    """What :func:`decode_message` returns.

    :param message: the packet or typed control message.
    :param crc_ok: False only for a packet decoded with ``accept_bad_crc=True`` whose CRC failed.
    """

    message: Message
    crc_ok: bool


def encode_message(message: Message, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a packet or control message.

    :raises WireError: if the message is malformed or too large for ``limits``.
    """
    if isinstance(message, Packet):
        return encode(message, limits)
    if isinstance(message, PointStart | PointEnd | End):
        return encode(to_control(message), limits)
    raise WireError("bad-type", f"cannot encode a {type(message).__name__}")


def decode_message(data: bytes, limits: Limits = DEFAULT_LIMITS, accept_bad_crc: bool = False) -> Received:
    """Decode and check one message: a packet, or a control message with every field checked.

    :raises WireError: for anything malformed (``bad-control`` for a control body that is not one
        of the typed messages).
    """
    decoded = decode(data, limits, accept_bad_crc)
    message = decoded.message
    return Received(message if isinstance(message, Packet) else from_control(message), decoded.crc_ok)


def to_control(message: ControlMessage) -> Control:
    """The envelope of a typed message (its fields other than ``run_id`` and ``point`` as the body)."""
    body = {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}
    run_id, point = body.pop("run_id"), body.pop("point", 0)
    body = {k: list(v) if isinstance(v, tuple) else v for k, v in body.items()}
    return Control(message.kind, run_id, point, body)


def from_control(control: Control) -> ControlMessage:
    """The typed message of an envelope.

    :raises WireError: ``bad-control`` naming the field that is missing, unknown or of the wrong type.
    """
    body = control.body
    if control.kind == "end":
        _fields(body, set())
        return End(control.run_id)
    if control.kind == "point-start":
        _fields(body, {"key", "frames"})
        return PointStart(control.run_id, control.point, _text(body, "key"), _count(body, "frames"))
    _fields(body, {f.name for f in dataclasses.fields(PointEnd)} - {"run_id", "point"}, optional={"channel", "dropped"})
    end = PointEnd(
        run_id=control.run_id,
        point=control.point,
        key=_text(body, "key"),
        packets_sent=_count(body, "packets_sent"),
        payload_bits=_count(body, "payload_bits"),
        wire_bits=_count(body, "wire_bits"),
        frame_packets=_counts(body, "frame_packets"),
        frame_bits=_counts(body, "frame_bits"),
        frame_settings=tuple(_numbers(item, "frame_settings") for item in _list(body, "frame_settings")),
        channel=_numbers(body.get("channel", {}), "channel"),
        dropped=_count_map(body.get("dropped", {}), "dropped"),
    )
    if not len(end.frame_packets) == len(end.frame_bits) == len(end.frame_settings):
        raise WireError("bad-control", "point-end frame_packets, frame_bits and frame_settings differ in length")
    return end


def _fields(body: dict[str, Any], required: set[str], optional: frozenset[str] | set[str] = frozenset()) -> None:
    missing, unknown = sorted(required - set(body) - set(optional)), sorted(set(body) - required - set(optional))
    if missing:
        raise WireError("bad-control", f"control body lacks {missing[0]!r}")
    if unknown:
        raise WireError("bad-control", f"control body has an unknown field {unknown[0]!r}")


def _text(body: dict[str, Any], name: str) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise WireError("bad-control", f"{name} is {type(value).__name__}, not str")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _count(body: dict[str, Any], name: str) -> int:
    value = body[name]
    if not _is_count(value):
        raise WireError("bad-control", f"{name} is {value!r:.40}, not a count")
    return int(value)


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value = body[name]
    if not isinstance(value, list):
        raise WireError("bad-control", f"{name} is {type(value).__name__}, not a list")
    return value


def _counts(body: dict[str, Any], name: str) -> tuple[int, ...]:
    values = _list(body, name)
    if not all(_is_count(v) for v in values):
        raise WireError("bad-control", f"{name} holds something other than counts")
    return tuple(int(v) for v in values)


def _count_map(value: Any, name: str) -> dict[str, int]:
    """A map of names to counts."""
    if not isinstance(value, dict) or not all(isinstance(k, str) and _is_count(v) for k, v in value.items()):
        raise WireError("bad-control", f"{name} is not a map of names to counts")
    return {k: int(v) for k, v in value.items()}


def _numbers(value: Any, name: str) -> dict[str, float]:
    """A map of names to finite numbers."""
    ok = isinstance(value, dict) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value.values()
    )
    if not ok:
        raise WireError("bad-control", f"{name} is not a map of names to finite numbers")
    return {str(k): float(v) for k, v in value.items()}
