"""Reading untrusted bytes: msgpack unpacked under explicit size limits, then every field checked.

Anything malformed raises :class:`~semlink.wire.limits.WireError` with a short ``reason``;
nothing else escapes (msgpack's own errors are turned into ``not-msgpack`` or ``too-large``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import msgpack

from semlink.wire.limits import DEFAULT_LIMITS, MAX_BODY_DEPTH, MAX_INT, Limits, WireError, show_value
from semlink.wire.packets import (
    CONTROL_FIELDS,
    CONTROL_KINDS,
    CONTROL_TAG,
    PACKET_FIELDS,
    VERSION,
    Control,
    Packet,
)

MSGPACK_INT_RANGE = (-(2**63), 2**64 - 1)


@functools.lru_cache(maxsize=8)
def unpack_limits(limits: Limits) -> dict[str, int]:
    """msgpack's size bounds for ``limits`` (unpackb allocates nothing beyond what it reads)."""
    return {
        "max_bin_len": limits.max_payload,
        "max_str_len": max(limits.max_stream_name, limits.max_control_bytes, len(CONTROL_KINDS[0])),
        "max_array_len": max(PACKET_FIELDS, limits.max_control_bytes),
        "max_map_len": limits.max_control_bytes,
        "max_ext_len": 16,
    }


@functools.lru_cache(maxsize=8)
def unpacker(limits: Limits) -> Callable[[bytes], Any]:
    """``msgpack.unpackb`` with the bounds of ``limits`` bound in."""
    return functools.partial(msgpack.unpackb, raw=False, use_list=True, strict_map_key=True, **unpack_limits(limits))


DEFAULT_UNPACK = unpacker(DEFAULT_LIMITS)
"""The default limits' unpacker, taken without hashing the limits (the relay's hot path)."""


def unpack(data: bytes, limits: Limits) -> Any:
    """Exactly one msgpack object from ``data``."""
    try:
        return (DEFAULT_UNPACK if limits is DEFAULT_LIMITS else unpacker(limits))(data)
    except msgpack.ExtraData as error:
        raise WireError("not-msgpack", "trailing bytes after the message") from error
    except (msgpack.UnpackException, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as error:
        reason = "too-large" if "exceeds max_" in str(error) else "not-msgpack"
        raise WireError(reason, f"{type(error).__name__}: {show_value(str(error))}") from error


def check_header(items: Any, with_crc: bool = True) -> None:
    """Check that ``items`` is a packet or control array of this version (``with_crc``: CRC included)."""
    if not isinstance(items, list) or not items:
        raise WireError("bad-shape", f"top-level {type(items).__name__}, not a non-empty array")
    if isinstance(items[0], bool) or not isinstance(items[0], int):
        raise WireError("bad-type", f"version is {type(items[0]).__name__}, not int")
    if items[0] != VERSION:
        raise WireError("bad-version", f"version {show_value(items[0])}, expected {VERSION}")
    size = len(items) + (0 if with_crc else 1)
    if size not in (PACKET_FIELDS, CONTROL_FIELDS):
        raise WireError("bad-shape", f"array of {size} elements")
    if size == CONTROL_FIELDS and items[1] != CONTROL_TAG:
        raise WireError("bad-shape", f"{CONTROL_FIELDS}-element array without the {CONTROL_TAG!r} tag")


def parse_items(items: list[Any], limits: Limits) -> Packet | Control:
    """The message of a wire array without its CRC; every field validated."""
    check_header(items, with_crc=False)
    if len(items) == CONTROL_FIELDS - 1:
        return parse_control(items, limits)
    return parse_packet(items, limits)


def parse_packet(items: list[Any], limits: Limits) -> Packet:
    """A validated :class:`Packet` from its wire fields."""
    _, run_id, point, frame, stream, first, count, frag, frag_count, t_us, payload = items
    count = check_int("chunk_count", count, limits.max_chunks, low=1)
    frag_count = check_int("frag_count", frag_count, limits.max_frags, low=1)
    packet = Packet(
        run_id=check_int("run_id", run_id, MAX_INT),
        point=check_int("point", point, limits.max_point),
        frame=check_int("frame", frame, limits.max_frame),
        stream=check_stream_name(stream, limits),
        chunk_first=check_int("chunk_first", first, limits.max_chunks - count),
        chunk_count=count,
        frag=check_int("frag", frag, frag_count - 1),
        frag_count=frag_count,
        t_us=check_int("t_us", t_us, MAX_INT),
        payload=check_payload(payload, limits),
    )
    if frag_count > 1 and count != 1:
        raise WireError("bad-value", f"a fragment carries chunk_count={count}, not 1")
    return packet


def parse_control(items: list[Any], limits: Limits) -> Control:
    """A validated :class:`Control` from its wire fields."""
    _, _, kind, run_id, point, body = items
    if not isinstance(kind, str):
        raise WireError("bad-type", f"control kind is {type(kind).__name__}, not str")
    if kind not in CONTROL_KINDS:
        raise WireError("bad-value", f"control kind {show_value(kind)} not in {', '.join(CONTROL_KINDS)}")
    run_id = check_int("run_id", run_id, MAX_INT)
    point = check_int("point", point, limits.max_point)
    if not isinstance(body, dict):
        raise WireError("bad-type", f"control body is {type(body).__name__}, not a map")
    check_json_like(body, 0)
    size = len(msgpack.packb(body, use_bin_type=True))
    if size > limits.max_control_bytes:
        raise WireError("too-large", f"control body of {size} bytes > {limits.max_control_bytes}")
    return Control(kind=kind, run_id=run_id, point=point, body=body)


def check_int(name: str, value: Any, high: int, low: int = 0) -> int:
    """``value`` if it is an int (bool excluded) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError("bad-type", f"{name} is {type(value).__name__}, not int")
    if not low <= value <= high:
        raise WireError("bad-value", f"{name}={show_value(value)} outside [{low}, {high}]")
    return value


def check_stream_name(value: Any, limits: Limits) -> str:
    """``value`` if it is a non-empty printable ASCII name within the limit."""
    if not isinstance(value, str):
        raise WireError("bad-type", f"stream is {type(value).__name__}, not str")
    if not value or len(value) > limits.max_stream_name or not (value.isascii() and value.isprintable()):
        raise WireError(
            "bad-value", f"stream name {show_value(value)} is not 1-{limits.max_stream_name} printable ASCII"
        )
    return value


def check_payload(value: Any, limits: Limits) -> bytes:
    """``value`` if it is bytes within ``max_payload``."""
    if not isinstance(value, bytes):
        raise WireError("bad-type", f"payload is {type(value).__name__}, not bytes")
    if len(value) > limits.max_payload:
        raise WireError("too-large", f"payload of {len(value)} bytes > {limits.max_payload}")
    return value


def check_json_like(value: Any, depth: int) -> None:
    """Raise unless ``value`` is JSON-like data nested at most :data:`MAX_BODY_DEPTH` deep."""
    if depth > MAX_BODY_DEPTH:
        raise WireError("bad-value", f"control body nested deeper than {MAX_BODY_DEPTH}")
    if value is None or isinstance(value, bool | float | str):
        return
    if isinstance(value, int):
        if not MSGPACK_INT_RANGE[0] <= value <= MSGPACK_INT_RANGE[1]:
            raise WireError("bad-value", f"control body int {show_value(value)} does not fit 64 bits")
        return
    if isinstance(value, list):
        for item in value:
            check_json_like(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise WireError("bad-type", f"control body key is {type(key).__name__}, not str")
            check_json_like(item, depth + 1)
        return
    raise WireError("bad-type", f"control body holds a {type(value).__name__}")
