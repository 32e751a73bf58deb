"""Bytes on the wire, in one place; a module per concern:

- :mod:`~semlink.wire.limits`: :class:`Limits` and :class:`WireError` (what is accepted, how it says no);
- :mod:`~semlink.wire.packets`: the :class:`Packet` and control envelope arrays, run ids;
- :mod:`~semlink.wire.crc`: the fixed-width CRC-32 that closes every message;
- :mod:`~semlink.wire.validate`: unpacking under size limits and checking every field;
- :mod:`~semlink.wire.format`: one message to bytes and back (``encode``, ``decode``);
- :mod:`~semlink.wire.relay`: what a relay reads of a packet (:func:`relay_view`, :func:`packet_prefix`);
- :mod:`~semlink.wire.framing`: the chunk framing inside a payload;
- :mod:`~semlink.wire.messages`: the typed control messages;
- :mod:`~semlink.wire.batch`: the socket message that carries a frame's packets;
- :mod:`~semlink.wire.seal`: the sequence number and MAC sealing each socket message between nodes,
  and the run's keys.

Stages send and read messages with :func:`encode_message` and :func:`decode_message`; nothing
outside this package declares a byte format or reads a packet by position, and the package
imports nothing else of the project.
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
from semlink.wire.framing import chunk_span, frame_chunks, frame_fragments, framed_size, framing_bytes, parse_payload
from semlink.wire.limits import DEFAULT_LIMITS, REASONS, Limits, WireError
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
from semlink.wire.packets import RUN_IDS, VERSION, Packet, new_run_id, restamp
from semlink.wire.relay import Relayed, packet_prefix, relay_view
from semlink.wire.seal import (
    MAX_SEALED_BYTES,
    SEAL_BYTES,
    SEALED,
    WRAPPED,
    Opener,
    RunKeys,
    Sealed,
    Sealer,
    read_seal,
    read_sealed,
    run_keys,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_PARTS",
    "MAX_SEALED_BYTES",
    "REASONS",
    "RUN_IDS",
    "SEALED",
    "SEAL_BYTES",
    "VERSION",
    "WRAPPED",
    "Batch",
    "ControlMessage",
    "End",
    "Limits",
    "Message",
    "Opener",
    "Packet",
    "PointEnd",
    "PointStart",
    "Received",
    "Relayed",
    "RunKeys",
    "Sealed",
    "Sealer",
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
    "read_seal",
    "read_sealed",
    "relay_view",
    "restamp",
    "run_keys",
    "split_parts",
    "unpack_parts",
]
