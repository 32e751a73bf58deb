"""One socket message: the packets of a frame (or one control message) as a single ZeroMQ part.

libzmq assembles a multipart message whole before the application can read its first part
(measured here: 2,000 unread parts of 65 kB raised the reader's memory by 125 MB), so a cap on
parts checked after ``recv_multipart`` bounds nothing. semlink therefore sends each message as
*one* part, a msgpack array of the packets' bytes: the socket's ``MAXMSGSIZE`` (set to
:data:`MAX_BATCH_BYTES`) makes libzmq drop a larger message from its size header, before
buffering it, and :func:`unpack_parts` reads at most :data:`MAX_BATCH_PARTS` packets, skipping
the rest unparsed. A multipart message from a peer is dropped as a whole (``multipart``).

A frame whose packets do not fit one message goes as several (:func:`split_parts`), in order;
the receiver reassembles packets, not messages. The cap is small (4 MiB) because a receiving
socket's queue is bounded in bytes over the largest message (``semlink.nodes.transport``): the
smaller the largest message, the more ordinary frames the queue holds, and a relay with a queue
of only three messages stalls on every hand-over (measured: 0.6 x a bare relay's packets/s with
three, 0.95 x with fifteen).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgpack

from semlink.wire.limits import WireError

MAX_BATCH_PARTS = 4096
"""Packets one socket message may carry; those beyond are skipped (a sender splits a larger frame)."""
MAX_BATCH_BYTES = 4 * 2**20
"""Bytes one socket message may carry (and the sockets' ``MAXMSGSIZE``); a sender splits a larger frame."""
_ITEM_OVERHEAD = 5  # a msgpack bin header is at most 5 bytes
_ARRAY_OVERHEAD = 5  # and an array header too


@dataclass(frozen=True)
class Batch:
    """The packets of one socket message and how many beyond the cap were skipped."""

    parts: list[bytes]
    skipped: int = 0


def pack_parts(parts: Sequence[bytes], max_bytes: int = MAX_BATCH_BYTES) -> bytes:
    """One socket message carrying ``parts``.

    :raises WireError: ``too-large`` for more than :data:`MAX_BATCH_PARTS` parts or ``max_bytes`` bytes.
    """
    size = _ARRAY_OVERHEAD + sum(len(part) + _ITEM_OVERHEAD for part in parts)
    if len(parts) > MAX_BATCH_PARTS or size > max_bytes:
        raise WireError(
            "too-large",
            f"a message of {len(parts)} packets and {size} bytes; at most {MAX_BATCH_PARTS} and {max_bytes}",
        )
    return msgpack.packb(list(parts), use_bin_type=True)


def split_parts(parts: Sequence[bytes], max_bytes: int = MAX_BATCH_BYTES) -> list[list[bytes]]:
    """``parts`` in order, cut into as few runs as keep each within one socket message
    (:data:`MAX_BATCH_PARTS` packets, ``max_bytes`` bytes as :func:`pack_parts` counts them).

    A single part too large for a message still gets a run of its own (:func:`pack_parts` then
    refuses it); no part is lost or reordered. Nothing to split gives one run, even an empty one.
    """
    runs: list[list[bytes]] = [[]]
    size = _ARRAY_OVERHEAD
    for part in parts:
        cost = len(part) + _ITEM_OVERHEAD
        if runs[-1] and (len(runs[-1]) == MAX_BATCH_PARTS or size + cost > max_bytes):
            runs.append([])
            size = _ARRAY_OVERHEAD
        runs[-1].append(part)
        size += cost
    return runs


def unpack_parts(data: bytes | memoryview, max_parts: int = MAX_BATCH_PARTS) -> Batch:
    """The packets of one socket message (or of the body of a sealed one, :mod:`~semlink.wire.seal`,
    not copied); packets beyond ``max_parts`` are skipped unread.

    :raises WireError: ``bad-batch`` for anything but one msgpack array of byte strings.
    """
    try:  # one C call for a message within the cap (the relay's hot path)
        items = msgpack.unpackb(data, max_array_len=max_parts, max_bin_len=len(data), **_NO_TEXT)
    except ValueError as error:
        if "max_array_len" not in str(error):
            raise WireError("bad-batch", _batch_problem(error)) from None
        return _unpack_capped(data, max_parts)
    except Exception as error:  # msgpack raises several types for broken input
        raise WireError("bad-batch", _batch_problem(error)) from None
    if not isinstance(items, list):
        raise WireError("bad-batch", f"a {type(items).__name__}, not an array")
    return Batch(_checked_parts(items))


_NO_TEXT = {"max_str_len": 0, "max_map_len": 0, "max_ext_len": 0}
"""A socket message holds byte strings only: text, maps and extensions are refused as they are read."""


def _batch_problem(error: Exception) -> str:
    """What was wrong with a batch, in a word or two."""
    return "bytes after the array" if isinstance(error, msgpack.ExtraData) else type(error).__name__


def _unpack_capped(data: bytes | memoryview, max_parts: int) -> Batch:
    """The first ``max_parts`` packets of a message that holds more; the rest are skipped unread."""
    unpacker = msgpack.Unpacker(max_buffer_size=max(len(data), 1), max_bin_len=len(data), **_NO_TEXT)
    unpacker.feed(data)
    try:
        count = unpacker.read_array_header()
        parts = [unpacker.unpack() for _ in range(max_parts)]
    except Exception as error:  # msgpack raises several types for broken input
        raise WireError("bad-batch", type(error).__name__) from None
    return Batch(_checked_parts(parts), count - max_parts)


def _checked_parts(parts: list[object]) -> list[bytes]:
    """``parts``, once each is known to be a byte string.

    :raises WireError: ``bad-batch`` for an item that is not.
    """
    if not all(isinstance(part, bytes) for part in parts):
        raise WireError("bad-batch", "an item that is not a byte string")
    return parts  # type: ignore[return-value]  # checked item by item just above


def read_message(frames: Sequence[bytes], max_parts: int = MAX_BATCH_PARTS) -> Batch:
    """The packets of one received socket message, given its ZeroMQ parts.

    :raises WireError: ``multipart`` for a message of several parts, ``bad-batch`` as :func:`unpack_parts`.
    """
    if len(frames) != 1:
        raise WireError("multipart", f"{len(frames)} parts")
    return unpack_parts(frames[0], max_parts)
