"""The wire format: packets and control envelopes as msgpack arrays closed by a CRC-32.

With :mod:`~semlink.wire.framing` (the chunk framing inside a payload) and
:mod:`~semlink.wire.messages` (the typed control messages), this package is the only place that
turns messages into bytes and back; it imports nothing else of the project. On the wire::

    packet   [VERSION, run_id, point, frame, stream, chunk_first, chunk_count, frag, frag_count, t_us, payload, crc32]
    control  [VERSION, "ctl", kind, run_id, point, body, crc32]

``crc32`` is :func:`zlib.crc32` of the msgpack encoding of the same array without its last
element (``use_bin_type=True``), always written as a 5-byte msgpack uint32: msgpack's shortest
form would make a packet 2 bytes shorter whenever its CRC happened to be under 2**16, and the
CRC depends on the random run id, so ``bpp_wire`` would change from one run to the next.
:func:`decode` checks it over the bytes as received, unpacks
with explicit size limits and validates every field, so anything malformed raises
:class:`WireError` with a short ``reason`` and nothing else ever escapes.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

VERSION = 2
CONTROL_TAG = "ctl"
CONTROL_KINDS = ("point-start", "point-end", "end")
PACKET_FIELDS = 12
CONTROL_FIELDS = 7
MAX_INT = 2**63 - 1
MAX_CRC = 2**32 - 1
MAX_BODY_DEPTH = 32
_MSGPACK_INT = (-(2**63), 2**64 - 1)
_SHOWN = 40

REASONS: dict[str, str] = {
    "not-msgpack": "not exactly one well-formed msgpack object",
    "too-large": "larger than the wire limits allow",
    "bad-shape": "not a packet or control array",
    "bad-type": "a field has the wrong type",
    "bad-value": "a field is out of range",
    "bad-version": "unsupported wire version",
    "bad-crc": "CRC-32 mismatch",
    "bad-control": "a control message whose fields are not those of its kind",
    "bad-batch": "a socket message that is not one msgpack array of byte strings",
    "multipart": "a socket message of several ZeroMQ parts (semlink sends one part a message)",
    "too-many-parts": "packets of one socket message beyond the cap, skipped unread",
}


class WireError(ValueError):
    """Bytes or a message that the wire format rejects.

    :param reason: a short token, one of :data:`REASONS`.
    :param detail: what exactly was wrong (one line).
    """

    reason: str
    detail: str

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown wire error reason {reason!r}; known: {', '.join(REASONS)}")
        self.reason = reason
        self.detail = " ".join(detail.split())
        suffix = f" ({self.detail})" if self.detail else ""
        super().__init__(f"{reason}: {REASONS[reason]}{suffix}")

    def __reduce__(self) -> tuple[type[WireError], tuple[str, str]]:
        """Pickle as ``(reason, detail)`` so the error crosses process boundaries."""
        return type(self), (self.reason, self.detail)


@dataclass(frozen=True)
class Limits:
    """Upper bounds that :func:`decode` enforces (and :func:`encode` checks before sending).

    :param max_message_bytes: whole encoded message.
    :param max_payload: packet payload bytes.
    :param max_stream_name: characters of a stream name.
    :param max_frame: largest frame index.
    :param max_point: largest point index.
    :param max_chunks: ``chunk_first + chunk_count`` at most this.
    :param max_frags: fragments of one chunk.
    :param max_control_bytes: encoded size of a control message's body.
    """

    max_message_bytes: int = 70_000
    max_payload: int = 65_536
    max_stream_name: int = 16
    max_frame: int = 2**31 - 1
    max_point: int = 2**31 - 1
    max_chunks: int = 65_535
    max_frags: int = 4_096
    max_control_bytes: int = 65_536


DEFAULT_LIMITS = Limits()

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


@dataclass(frozen=True)
class Decoded:
    """What :func:`decode` returns.

    :param message: the packet or control message.
    :param crc_ok: False only for a packet decoded with ``accept_bad_crc=True`` whose CRC failed.
    """

    message: Packet | Control
    crc_ok: bool


def encode(message: Packet | Control, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Encode a message, after checking it is one that :func:`decode` accepts under ``limits``.

    :param message: the packet or control message.
    :param limits: the bounds to check against.
    :raises WireError: if the message is malformed or too large.
    """
    items = _items(message)
    _parse(items, limits)
    packer = msgpack.Packer(use_bin_type=True)
    body = b"".join(packer.pack(item) for item in items)
    crc = zlib.crc32(packer.pack_array_header(len(items)) + body)
    data = packer.pack_array_header(len(items) + 1) + body + crc_field(crc)
    if len(data) > limits.max_message_bytes:
        raise WireError("too-large", f"message of {len(data)} bytes > {limits.max_message_bytes}")
    return data


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS, accept_bad_crc: bool = False) -> Decoded:
    """Decode and validate one message; raise :class:`WireError` and nothing else on bad bytes.

    :param data: the bytes as received.
    :param limits: the bounds to enforce.
    :param accept_bad_crc: return a structurally valid packet whose CRC failed, marked ``crc_ok=False``
        (control messages with a bad CRC are always rejected).
    :raises WireError: with ``reason`` one of :data:`REASONS`.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("bad-type", f"data is {type(data).__name__}, not bytes")
    data = bytes(data)
    if len(data) > limits.max_message_bytes:
        raise WireError("too-large", f"message of {len(data)} bytes > {limits.max_message_bytes}")
    items = _unpack(data, limits)
    _check_header(items)
    crc = _int("crc32", items[-1], MAX_CRC)
    crc_ok = _received_crc(data, len(items), crc) == crc
    if not crc_ok and not (accept_bad_crc and len(items) == PACKET_FIELDS):
        raise WireError("bad-crc", "checksum does not match the message")
    return Decoded(_parse(items[:-1], limits), crc_ok)


RUN_FIELD = 1
STREAM_FIELD = 4
CHUNK_COUNT_FIELD = 6
FRAG_COUNT_FIELD = 8
T_US_FIELD = 9
PAYLOAD_FIELD = 10
"""Positions of packet fields in the wire array (for relays that do not parse the rest)."""


@dataclass(frozen=True)
class Relayed:
    """A data packet as a relay sees it: its wire fields, checked for shape and CRC but not interpreted.

    The channel only needs a packet's time and size, so it skips the field-by-field validation
    (the receiver does that) and re-encodes with :meth:`with_time`.

    :param items: the wire array, CRC included.
    """

    items: list[Any]

    @property
    def t_us(self) -> int:
        """The packet's simulated time."""
        return int(self.items[T_US_FIELD])

    @property
    def run_id(self) -> int | None:
        """The packet's run id (None if it is not an int: the receiver will reject such a packet)."""
        value = self.items[RUN_FIELD]
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def stream(self) -> str:
        """The packet's stream name ("" if it is not text: the receiver will reject such a packet)."""
        value = self.items[STREAM_FIELD]
        return value if isinstance(value, str) else ""

    def check_crc(self, data: bytes) -> None:
        """Verify the CRC of ``data``, the bytes this view was read from.

        :raises WireError: ``bad-crc`` if it does not match.
        """
        crc = _int("crc32", self.items[-1], MAX_CRC)
        if _received_crc(data, len(self.items), crc) != crc:
            raise WireError("bad-crc", "checksum does not match the message")

    def with_time(self, t_us: int) -> bytes:
        """The packet re-encoded with a new time and a fresh CRC."""
        fields = self.items[:-1]
        fields[T_US_FIELD] = t_us
        body = msgpack.packb(fields, use_bin_type=True)  # header of PACKET_FIELDS - 1 items, then the items
        crc = zlib.crc32(body)
        return _array_header(PACKET_FIELDS) + body[len(_array_header(PACKET_FIELDS - 1)) :] + crc_field(crc)


def packet_prefix(run_id: int) -> bytes:
    """The first bytes of every data packet of run ``run_id`` as :func:`encode_message` writes it:
    the array header, the version and the run id, each in msgpack's shortest form.

    A relay that reads nothing else of a packet (a transparent channel) tells this run's packets
    from everything else with one ``startswith``; a packet encoded another valid way fails that
    test and takes the full check (:func:`relay_view`).
    """
    return _array_header(PACKET_FIELDS) + msgpack.packb(VERSION) + msgpack.packb(run_id)


def relay_view(data: bytes, limits: Limits = DEFAULT_LIMITS, verify_crc: bool = True) -> Relayed | None:
    """A data packet's fields for relaying, or None if ``data`` is a control message.

    :param verify_crc: check the CRC now; a relay that forwards the bytes unchanged may leave that
        to the receiver and call :meth:`Relayed.check_crc` only before it re-encodes.
    :raises WireError: for anything malformed, a bad CRC, or a packet whose time is not an int.
    """
    if len(data) > limits.max_message_bytes:
        raise WireError("too-large", f"message of {len(data)} bytes > {limits.max_message_bytes}")
    items = _unpack(data, limits)
    _check_header(items)
    if len(items) != PACKET_FIELDS:
        return None
    if verify_crc:
        crc = _int("crc32", items[-1], MAX_CRC)
        if _received_crc(data, PACKET_FIELDS, crc) != crc:
            raise WireError("bad-crc", "checksum does not match the message")
    _int("t_us", items[T_US_FIELD], MAX_INT)
    return Relayed(items)


def restamp(packet: Packet, t_us: int) -> Packet:
    """The same packet with its simulated time replaced (the channel's arrival time).

    :param packet: the packet.
    :param t_us: the new time in µs.
    """
    return dataclasses.replace(packet, t_us=t_us)


def _items(message: Packet | Control) -> list[Any]:
    """The wire array of ``message`` without its CRC."""
    if isinstance(message, Packet):
        m = message
        fields = [m.run_id, m.point, m.frame, m.stream, m.chunk_first, m.chunk_count, m.frag, m.frag_count, m.t_us]
        return [VERSION, *fields, m.payload]
    if isinstance(message, Control):
        return [VERSION, CONTROL_TAG, message.kind, message.run_id, message.point, message.body]
    raise WireError("bad-type", f"cannot encode a {type(message).__name__}")


@functools.lru_cache(maxsize=8)
def _unpack_limits(limits: Limits) -> dict[str, int]:
    """msgpack's size bounds for ``limits`` (unpackb allocates nothing beyond what it reads)."""
    return {
        "max_bin_len": limits.max_payload,
        "max_str_len": max(limits.max_stream_name, limits.max_control_bytes, len(CONTROL_KINDS[0])),
        "max_array_len": max(PACKET_FIELDS, limits.max_control_bytes),
        "max_map_len": limits.max_control_bytes,
        "max_ext_len": 16,
    }


@functools.lru_cache(maxsize=8)
def _unpacker(limits: Limits) -> Callable[[bytes], Any]:
    """``msgpack.unpackb`` with the bounds of ``limits`` bound in."""
    return functools.partial(msgpack.unpackb, raw=False, use_list=True, strict_map_key=True, **_unpack_limits(limits))


_DEFAULT_UNPACK = _unpacker(DEFAULT_LIMITS)
"""The default limits' unpacker, taken without hashing the limits (the relay's hot path)."""


def _unpack(data: bytes, limits: Limits) -> Any:
    """Exactly one msgpack object from ``data``."""
    try:
        return (_DEFAULT_UNPACK if limits is DEFAULT_LIMITS else _unpacker(limits))(data)
    except msgpack.ExtraData as error:
        raise WireError("not-msgpack", "trailing bytes after the message") from error
    except (msgpack.UnpackException, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as error:
        reason = "too-large" if "exceeds max_" in str(error) else "not-msgpack"
        raise WireError(reason, f"{type(error).__name__}: {_show(str(error))}") from error


ARRAY_HEADER_BYTES = {0xDC: 3, 0xDD: 5}
MSGPACK_UINT32 = b"\xce"


def crc_field(crc: int) -> bytes:
    """The CRC as the wire writes it: a msgpack uint32 of fixed width (see the module docstring)."""
    return MSGPACK_UINT32 + crc.to_bytes(4, "big")


@functools.lru_cache(maxsize=64)
def _array_header(count: int) -> bytes:
    """The msgpack header of an array of ``count`` items."""
    return msgpack.Packer(use_bin_type=True).pack_array_header(count)


CRC_FIELD_BYTES = 5


@functools.lru_cache(maxsize=64)
def _header_crc(count: int) -> int:
    """CRC-32 of the msgpack header of an array of ``count`` items (where a message's CRC starts)."""
    return zlib.crc32(_array_header(count))


def _received_crc(data: bytes, count: int, crc: int) -> int:
    """CRC-32 over the array as received minus its last element, the CRC (its canonical encoding)."""
    header = ARRAY_HEADER_BYTES.get(data[0], 1)
    end = len(data) - CRC_FIELD_BYTES
    if end < header or data[end:] != crc_field(crc):
        return crc ^ 1  # a non-canonical CRC field can only be a damaged one
    return zlib.crc32(data[header:end], _header_crc(count - 1))


def _check_header(items: Any, with_crc: bool = True) -> None:
    """Check that ``items`` is a packet or control array of this version (``with_crc``: CRC included)."""
    if not isinstance(items, list) or not items:
        raise WireError("bad-shape", f"top-level {type(items).__name__}, not a non-empty array")
    if isinstance(items[0], bool) or not isinstance(items[0], int):
        raise WireError("bad-type", f"version is {type(items[0]).__name__}, not int")
    if items[0] != VERSION:
        raise WireError("bad-version", f"version {_show(items[0])}, expected {VERSION}")
    size = len(items) + (0 if with_crc else 1)
    if size not in (PACKET_FIELDS, CONTROL_FIELDS):
        raise WireError("bad-shape", f"array of {size} elements")
    if size == CONTROL_FIELDS and items[1] != CONTROL_TAG:
        raise WireError("bad-shape", f"{CONTROL_FIELDS}-element array without the {CONTROL_TAG!r} tag")


def _parse(items: list[Any], limits: Limits) -> Packet | Control:
    """The message of a wire array without its CRC; every field validated."""
    _check_header(items, with_crc=False)
    if len(items) == CONTROL_FIELDS - 1:
        return _parse_control(items, limits)
    return _parse_packet(items, limits)


def _parse_packet(items: list[Any], limits: Limits) -> Packet:
    """A validated :class:`Packet` from its wire fields."""
    _, run_id, point, frame, stream, first, count, frag, frag_count, t_us, payload = items
    count = _int("chunk_count", count, limits.max_chunks, low=1)
    frag_count = _int("frag_count", frag_count, limits.max_frags, low=1)
    packet = Packet(
        run_id=_int("run_id", run_id, MAX_INT),
        point=_int("point", point, limits.max_point),
        frame=_int("frame", frame, limits.max_frame),
        stream=_stream_name(stream, limits),
        chunk_first=_int("chunk_first", first, limits.max_chunks - count),
        chunk_count=count,
        frag=_int("frag", frag, frag_count - 1),
        frag_count=frag_count,
        t_us=_int("t_us", t_us, MAX_INT),
        payload=_payload(payload, limits),
    )
    if frag_count > 1 and count != 1:
        raise WireError("bad-value", f"a fragment carries chunk_count={count}, not 1")
    return packet


def _parse_control(items: list[Any], limits: Limits) -> Control:
    """A validated :class:`Control` from its wire fields."""
    _, _, kind, run_id, point, body = items
    if not isinstance(kind, str):
        raise WireError("bad-type", f"control kind is {type(kind).__name__}, not str")
    if kind not in CONTROL_KINDS:
        raise WireError("bad-value", f"control kind {_show(kind)} not in {', '.join(CONTROL_KINDS)}")
    run_id = _int("run_id", run_id, MAX_INT)
    point = _int("point", point, limits.max_point)
    if not isinstance(body, dict):
        raise WireError("bad-type", f"control body is {type(body).__name__}, not a map")
    _json_like(body, 0)
    size = len(msgpack.packb(body, use_bin_type=True))
    if size > limits.max_control_bytes:
        raise WireError("too-large", f"control body of {size} bytes > {limits.max_control_bytes}")
    return Control(kind=kind, run_id=run_id, point=point, body=body)


def _int(name: str, value: Any, high: int, low: int = 0) -> int:
    """``value`` if it is an int (bool excluded) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError("bad-type", f"{name} is {type(value).__name__}, not int")
    if not low <= value <= high:
        raise WireError("bad-value", f"{name}={_show(value)} outside [{low}, {high}]")
    return value


def _stream_name(value: Any, limits: Limits) -> str:
    """``value`` if it is a non-empty printable ASCII name within the limit."""
    if not isinstance(value, str):
        raise WireError("bad-type", f"stream is {type(value).__name__}, not str")
    if not value or len(value) > limits.max_stream_name or not (value.isascii() and value.isprintable()):
        raise WireError("bad-value", f"stream name {_show(value)} is not 1-{limits.max_stream_name} printable ASCII")
    return value


def _payload(value: Any, limits: Limits) -> bytes:
    """``value`` if it is bytes within ``max_payload``."""
    if not isinstance(value, bytes):
        raise WireError("bad-type", f"payload is {type(value).__name__}, not bytes")
    if len(value) > limits.max_payload:
        raise WireError("too-large", f"payload of {len(value)} bytes > {limits.max_payload}")
    return value


def _json_like(value: Any, depth: int) -> None:
    """Raise unless ``value`` is JSON-like data nested at most :data:`MAX_BODY_DEPTH` deep."""
    if depth > MAX_BODY_DEPTH:
        raise WireError("bad-value", f"control body nested deeper than {MAX_BODY_DEPTH}")
    if value is None or isinstance(value, bool | float | str):
        return
    if isinstance(value, int):
        if not _MSGPACK_INT[0] <= value <= _MSGPACK_INT[1]:
            raise WireError("bad-value", f"control body int {_show(value)} does not fit 64 bits")
        return
    if isinstance(value, list):
        for item in value:
            _json_like(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise WireError("bad-type", f"control body key is {type(key).__name__}, not str")
            _json_like(item, depth + 1)
        return
    raise WireError("bad-type", f"control body holds a {type(value).__name__}")


def _show(value: object) -> str:
    """A short printable rendering of ``value`` for error messages."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
