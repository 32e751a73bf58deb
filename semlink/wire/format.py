"""The wire format: packets and control envelopes as msgpack arrays closed by a CRC-32.

One message to bytes (:func:`encode`) and back (:func:`decode`); the other modules of
:mod:`semlink.wire` hold the pieces (limits, the arrays, the CRC, the field checks). On the wire::

    packet   [VERSION, run_id, point, frame, stream, chunk_first, chunk_count, frag, frag_count, t_us, payload, crc32]
    control  [VERSION, "ctl", kind, run_id, point, body, crc32]

``crc32`` covers the array before it and is always a 5-byte msgpack uint32 (why:
:mod:`~semlink.wire.crc`). :func:`decode` checks it over the bytes as received, unpacks
with explicit size limits and validates every field, so anything malformed raises
:class:`~semlink.wire.limits.WireError` with a short ``reason`` and nothing else ever escapes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import msgpack

from semlink.wire.crc import crc_field, received_crc
from semlink.wire.limits import DEFAULT_LIMITS, MAX_CRC, Limits, WireError, check_message_size
from semlink.wire.packets import PACKET_FIELDS, Control, Packet, wire_items
from semlink.wire.validate import check_header, check_int, parse_items, unpack


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
    items = wire_items(message)
    parse_items(items, limits)
    packer = msgpack.Packer(use_bin_type=True)
    body = b"".join(packer.pack(item) for item in items)
    crc = zlib.crc32(packer.pack_array_header(len(items)) + body)
    data = packer.pack_array_header(len(items) + 1) + body + crc_field(crc)
    check_message_size(data, limits)
    return data


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS, accept_bad_crc: bool = False) -> Decoded:
    """Decode and validate one message; raise :class:`WireError` and nothing else on bad bytes.

    :param data: the bytes as received.
    :param limits: the bounds to enforce.
    :param accept_bad_crc: return a structurally valid packet whose CRC failed, marked ``crc_ok=False``
        (control messages with a bad CRC are always rejected).
    :raises WireError: with ``reason`` one of :data:`~semlink.wire.limits.REASONS`.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("bad-type", f"data is {type(data).__name__}, not bytes")
    data = bytes(data)
    check_message_size(data, limits)
    items = unpack(data, limits)
    check_header(items)
    crc = check_int("crc32", items[-1], MAX_CRC)
    crc_ok = received_crc(data, len(items), crc) == crc
    if not crc_ok and not (accept_bad_crc and len(items) == PACKET_FIELDS):
        raise WireError("bad-crc", "checksum does not match the message")
    return Decoded(parse_items(items[:-1], limits), crc_ok)
