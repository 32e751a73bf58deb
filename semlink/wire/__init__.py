"""Bytes on the wire, in one place: the packet format and control envelope
(:mod:`~semlink.wire.format`), the chunk framing inside a payload (:mod:`~semlink.wire.framing`),
the typed control messages (:mod:`~semlink.wire.messages`) and the socket message that carries a
frame's packets (:mod:`~semlink.wire.batch`).

Stages send and read messages with :func:`encode_message` and :func:`decode_message`; nothing
outside this package declares a byte format or reads a packet by position.
"""

from semlink.wire.batch import (
    MAX_BATCH_BYTES,
    MAX_BATCH_PARTS,
    Batch,
    pack_parts,
    read_message,
    split_parts,
    unpack_parts,
)
from semlink.wire.format import (
    DEFAULT_LIMITS,
    REASONS,
    RUN_IDS,
    VERSION,
    Limits,
    Packet,
    Relayed,
    WireError,
    new_run_id,
    packet_prefix,
    relay_view,
    restamp,
)
from semlink.wire.framing import chunk_span, frame_chunks, frame_fragments, framed_size, framing_bytes, parse_payload
from semlink.wire.messages import (
    ControlMessage,
    End,
    Message,
    PointEnd,
    PointStart,
    Received,
    decode_message,
    encode_message,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_PARTS",
    "REASONS",
    "RUN_IDS",
    "VERSION",
    "Batch",
    "ControlMessage",
    "End",
    "Limits",
    "Message",
    "Packet",
    "PointEnd",
    "PointStart",
    "Received",
    "Relayed",
    "WireError",
    "chunk_span",
    "decode_message",
    "encode_message",
    "frame_chunks",
    "frame_fragments",
    "framed_size",
    "framing_bytes",
    "new_run_id",
    "pack_parts",
    "packet_prefix",
    "parse_payload",
    "read_message",
    "relay_view",
    "restamp",
    "split_parts",
    "unpack_parts",
]
