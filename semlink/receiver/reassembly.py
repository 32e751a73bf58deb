"""Reassembly: packets of a point, in any order and with any losses -> one :class:`FrameArrival` per frame.

The :class:`Reassembler` reads each payload with :func:`semlink.wire.parse_payload` (the
framing of :mod:`semlink.wire.framing`). It keeps at most ``window`` frames open: frame ``f``
closes once a packet of frame ``>= f + window`` has been added, or at :meth:`Reassembler.flush`. Every frame index in
``[0, expected_frames)`` comes out exactly once, in order, empty if nothing of it arrived.

Memory is bounded whatever arrives. Each open frame is charged the payload bytes it stores, plus
:data:`ENTRY_COST` per stored piece and new stream, plus :data:`SLOT_COST` per chunk slot a new stream
announces (its eventual list); a packet that would push a frame past ``max_frame_bytes`` is
dropped as ``inconsistent``. Closed frames wait in a queue until :meth:`Reassembler.ready` hands
them out, so callers should collect them as they go.

The outputs depend only on the sequence of packets added.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from semlink.codecs.base import ReceivedBitstream
from semlink.wire import Packet, parse_payload

COUNTER_KEYS = ("accepted", "duplicate", "late", "bad-frame", "inconsistent", "bad-payload")
ENTRY_COST = 64
SLOT_COST = 8


@dataclass
class FrameArrival:
    """What arrived of one frame.

    :param frame: the frame index.
    :param chunks: stream name -> every chunk of the stream in order, None where missing.
    :param packets: packets accepted for this frame.
    :param first_t_us: earliest arrival time among them (None if none).
    :param last_t_us: latest arrival time among them (None if none).
    :param complete: every chunk of every stream that announced itself is present (False if nothing arrived).
    """

    frame: int
    chunks: dict[str, list[bytes | None]] = field(default_factory=dict)
    packets: int = 0
    first_t_us: int | None = None
    last_t_us: int | None = None
    complete: bool = False

    def received(self, shape: tuple[int, int]) -> ReceivedBitstream:
        """The arrival as the codec's input.

        :param shape: ``(H, W)`` of the frame.
        """
        return ReceivedBitstream({name: list(chunks) for name, chunks in self.chunks.items()}, shape)


@dataclass
class _Fragments:
    """The fragments of one chunk received so far."""

    count: int
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass
class _StreamBuffer:
    """One stream of an open frame: whole chunks and partly received fragmented chunks."""

    total: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    frags: dict[int, _Fragments] = field(default_factory=dict)

    def store_fragment(self, packet: Packet, data: bytes) -> None:
        """Keep a fragment; join the chunk when its last fragment arrives."""
        pending = self.frags.setdefault(packet.chunk_first, _Fragments(packet.frag_count))
        pending.parts[packet.frag] = data
        if len(pending.parts) == pending.count:
            self.chunks[packet.chunk_first] = b"".join(pending.parts[i] for i in range(pending.count))
            del self.frags[packet.chunk_first]

    def store_chunks(self, pieces: list[tuple[int, bytes]]) -> None:
        """Keep whole chunks (dropping any fragments pending for them)."""
        for index, data in pieces:
            self.chunks[index] = data
            self.frags.pop(index, None)

    def slots(self) -> list[bytes | None]:
        """Every chunk in order, None where missing."""
        return [self.chunks.get(i) for i in range(self.total)]


@dataclass
class _FrameBuffer:
    """An open frame."""

    frame: int
    streams: dict[str, _StreamBuffer] = field(default_factory=dict)
    packets: int = 0
    first_t_us: int | None = None
    last_t_us: int | None = None
    cost: int = 0

    def note(self, packet: Packet, cost: int) -> None:
        """Count an accepted packet and what it costs."""
        self.packets += 1
        self.cost += cost
        self.first_t_us = packet.t_us if self.first_t_us is None else min(self.first_t_us, packet.t_us)
        self.last_t_us = packet.t_us if self.last_t_us is None else max(self.last_t_us, packet.t_us)

    def arrival(self) -> FrameArrival:
        """The closed frame."""
        chunks = {name: self.streams[name].slots() for name in sorted(self.streams)}
        complete = bool(chunks) and all(c is not None for slots in chunks.values() for c in slots)
        return FrameArrival(self.frame, chunks, self.packets, self.first_t_us, self.last_t_us, complete)


class Reassembler:
    """Turns the packets of one point into frames.

    :param expected_frames: frames in the point; packets of other frames count as ``bad-frame``.
    :param frame_interval_us: time between frames at the transmitter (µs).
    :param deadline_us: a packet of frame ``f`` arriving after ``f * frame_interval_us + deadline_us``
        is ``late``; None = no deadline.
    :param window: frames kept open; frame ``f`` closes once a packet of frame ``>= f + window`` arrives.
    :param max_frame_bytes: buffer budget of one open frame (see the module docstring).
    """

    def __init__(
        self,
        expected_frames: int,
        frame_interval_us: int,
        deadline_us: int | None,
        window: int = 4,
        max_frame_bytes: int = 8_000_000,
    ) -> None:
        if expected_frames < 0 or frame_interval_us < 0 or (deadline_us is not None and deadline_us < 0):
            raise ValueError("expected_frames, frame_interval_us and deadline_us must be non-negative")
        if window < 1 or max_frame_bytes < 1:
            raise ValueError(f"window ({window}) and max_frame_bytes ({max_frame_bytes}) must be at least 1")
        self.expected_frames = expected_frames
        self.frame_interval_us = frame_interval_us
        self.deadline_us = deadline_us
        self.window = window
        self.max_frame_bytes = max_frame_bytes
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_KEYS, 0)
        self._open: dict[int, _FrameBuffer] = {}
        self._closed: list[FrameArrival] = []
        self._next = 0
        self._horizon = -1

    @property
    def open_frames(self) -> int:
        """Frames currently buffered."""
        return len(self._open)

    @property
    def buffered_bytes(self) -> int:
        """Bytes charged to the open frames (see the module docstring)."""
        return sum(buffer.cost for buffer in self._open.values())

    def add(self, packet: Packet) -> None:
        """File one packet: store it or count why not, and close the frames it moves past.

        :param packet: a packet of this point (already decoded from the wire).
        """
        self.counters[self._file(packet)] += 1
        if 0 <= packet.frame < self.expected_frames:
            self._horizon = max(self._horizon, packet.frame)
            self._close_through(self._horizon - self.window)

    def ready(self) -> list[FrameArrival]:
        """The frames closed since the last call, in increasing order with no gaps."""
        closed, self._closed = self._closed, []
        return closed

    def flush(self) -> list[FrameArrival]:
        """Close every frame left, up to ``expected_frames - 1``, and return all not yet handed out."""
        self._close_through(self.expected_frames - 1)
        return self.ready()

    def _close_through(self, last: int) -> None:
        """Close frames ``_next .. last`` (clipped to the point)."""
        last = min(last, self.expected_frames - 1)
        for frame in range(self._next, last + 1):
            buffer = self._open.pop(frame, None)
            self._closed.append(buffer.arrival() if buffer else FrameArrival(frame))
        self._next = max(self._next, last + 1)

    def _file(self, packet: Packet) -> str:
        """Store ``packet`` if it is good; the counter key that describes what happened."""
        if not 0 <= packet.frame < self.expected_frames:
            return "bad-frame"
        if packet.frame < self._next or self._past_deadline(packet):
            return "late"
        parsed = parse_payload(packet)
        if parsed is None:
            return "bad-payload"
        buffer = self._open.get(packet.frame)
        if buffer is None:
            buffer = _FrameBuffer(packet.frame)
        outcome = self._store(buffer, packet, *parsed)
        if outcome == "accepted":
            self._open[packet.frame] = buffer
        return outcome

    def _past_deadline(self, packet: Packet) -> bool:
        """Whether ``packet`` arrived after its frame's deadline."""
        if self.deadline_us is None:
            return False
        return packet.t_us > packet.frame * self.frame_interval_us + self.deadline_us

    def _store(self, buffer: _FrameBuffer, packet: Packet, total: int, pieces: list[bytes]) -> str:
        """Add a parsed packet to ``buffer`` within its budget; the counter key."""
        stream = buffer.streams.get(packet.stream)
        cost = 0
        if stream is None:
            stream, cost = _StreamBuffer(total), ENTRY_COST + SLOT_COST * total
        if stream.total != total or packet.chunk_first + packet.chunk_count > total:
            return "inconsistent"
        fragment = packet.frag_count > 1
        fresh = [] if fragment else [(i, p) for i, p in enumerate(pieces, packet.chunk_first) if i not in stream.chunks]
        outcome, more = _fragment_cost(stream, packet, pieces[0]) if fragment else _chunks_cost(fresh)
        if outcome != "accepted":
            return outcome
        if buffer.cost + cost + more > self.max_frame_bytes:
            return "inconsistent"
        if fragment:
            stream.store_fragment(packet, pieces[0])
        else:
            stream.store_chunks(fresh)
        buffer.streams[packet.stream] = stream
        buffer.note(packet, cost + more)
        return "accepted"


def _fragment_cost(stream: _StreamBuffer, packet: Packet, data: bytes) -> tuple[str, int]:
    """Whether a fragment is new (``accepted``), a ``duplicate`` or ``inconsistent``, and what it costs."""
    if packet.chunk_first in stream.chunks:
        return "duplicate", 0
    pending = stream.frags.get(packet.chunk_first)
    if pending is not None and pending.count != packet.frag_count:
        return "inconsistent", 0
    if pending is not None and packet.frag in pending.parts:
        return "duplicate", 0
    return "accepted", ENTRY_COST + len(data)


def _chunks_cost(fresh: list[tuple[int, bytes]]) -> tuple[str, int]:
    """``accepted`` and the cost of the chunks not yet present, or ``duplicate`` if there are none."""
    if not fresh:
        return "duplicate", 0
    return "accepted", sum(ENTRY_COST + len(data) for _, data in fresh)
