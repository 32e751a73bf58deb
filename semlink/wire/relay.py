"""What a relay (the channel) reads of a data packet: its time, run id and stream, checked for
shape and CRC but not interpreted field by field (the receiver does that), and re-encoded with a
new time without touching the rest.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import msgpack

from semlink.wire.crc import array_header, crc_field, received_crc
from semlink.wire.limits import DEFAULT_LIMITS, MAX_CRC, MAX_INT, Limits, WireError, check_message_size
from semlink.wire.packets import FRAME_FIELD, PACKET_FIELDS, POINT_FIELD, RUN_FIELD, STREAM_FIELD, T_US_FIELD, VERSION
from semlink.wire.validate import check_header, check_int, unpack


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
    def point(self) -> int | None:
        """The packet's unit on the wire (None if it is not a non-negative int: the receiver rejects such a packet)."""
        value = self.items[POINT_FIELD]
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    @property
    def frame(self) -> int:
        """The packet's frame index (0 if it is not an int: the receiver will reject such a packet)."""
        value = self.items[FRAME_FIELD]
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

    @property
    def stream(self) -> str:
        """The packet's stream name ("" if it is not text: the receiver will reject such a packet)."""
        value = self.items[STREAM_FIELD]
        return value if isinstance(value, str) else ""

    def check_crc(self, data: bytes) -> None:
        """Verify the CRC of ``data``, the bytes this view was read from.

        :raises WireError: ``bad-crc`` if it does not match.
        """
        crc = check_int("crc32", self.items[-1], MAX_CRC)
        if received_crc(data, len(self.items), crc) != crc:
            raise WireError("bad-crc", "checksum does not match the message")

    def with_time(self, t_us: int) -> bytes:
        """The packet re-encoded with a new time and a fresh CRC."""
        fields = self.items[:-1]
        fields[T_US_FIELD] = t_us
        body = msgpack.packb(fields, use_bin_type=True)  # header of PACKET_FIELDS - 1 items, then the items
        crc = zlib.crc32(body)
        return array_header(PACKET_FIELDS) + body[len(array_header(PACKET_FIELDS - 1)) :] + crc_field(crc)


def packet_prefix(run_id: int) -> bytes:
    """The first bytes of every data packet of run ``run_id`` as
    :func:`~semlink.wire.messages.encode_message` writes it: the array header, the version and
    the run id, each in msgpack's shortest form.

    A relay that reads nothing else of a packet (a transparent channel) tells this run's packets
    from everything else with one ``startswith``; a packet encoded another valid way fails that
    test and takes the full check (:func:`relay_view`).
    """
    return array_header(PACKET_FIELDS) + msgpack.packb(VERSION) + msgpack.packb(run_id)


def relay_view(data: bytes, limits: Limits = DEFAULT_LIMITS, verify_crc: bool = True) -> Relayed | None:
    """A data packet's fields for relaying, or None if ``data`` is a control message.

    :param verify_crc: check the CRC now; a relay that forwards the bytes unchanged may leave that
        to the receiver and call :meth:`Relayed.check_crc` only before it re-encodes.
    :raises WireError: for anything malformed, a bad CRC, or a packet whose time is not an int.
    """
    check_message_size(data, limits)
    items = unpack(data, limits)
    check_header(items)
    if len(items) != PACKET_FIELDS:
        return None
    if verify_crc:
        crc = check_int("crc32", items[-1], MAX_CRC)
        if received_crc(data, PACKET_FIELDS, crc) != crc:
            raise WireError("bad-crc", "checksum does not match the message")
    check_int("t_us", items[T_US_FIELD], MAX_INT)
    return Relayed(items)
