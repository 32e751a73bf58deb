"""ZeroMQ plumbing shared by the three nodes: sockets with explicit limits, and clean stops on signals."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from types import FrameType

import zmq

from semlink.errors import StageError
from semlink.nodes.liveness import PeerWatch, Waits, keepalive
from semlink.wire import MAX_SEALED_BYTES, Sealer, WireError, pack_parts

POLL_MS = 200
SETTLE_S = 1.0
"""How long a sender waits after its last message before it believes its watch that the peer never
connected (the watch's thread may not have seen a connection the messages just went through)."""
COUNTERS_PREFIX = "counters:"
"""How a node's counters line starts in its log (``semlink run`` repeats the rejections it finds)."""
MAX_PART_BYTES = MAX_SEALED_BYTES + 12
"""One socket message: a frame's packets (:mod:`semlink.wire.batch`) under two seals
(:mod:`semlink.wire.seal`), rounded up to the 4 MiB + 64 bytes it has always been."""
RECEIVE_QUEUE_BYTES = 64 * 2**20
"""What one connection's receive queue may hold at most: its length in messages is capped at this
over the largest message (15 messages of 4 MiB), so ``network.hwm`` largest messages never pile
up in a node's memory (a sender's own queue, ``SNDHWM``, still holds ``hwm`` messages)."""


class PeerError(StageError):
    """A peer never showed up, went away, or stalled past the scenario's timeouts."""


class StopFlag:
    """Set by SIGTERM/SIGINT so the node loops finish cleanly instead of dying mid-message.

    A plain attribute, not a :class:`threading.Event`: a handler runs between two bytecodes of
    the main thread, possibly inside ``Event.set`` of an earlier signal, and taking the event's
    lock there deadlocks the node (seen when a killed ``semlink run`` left its channel behind).
    """

    def __init__(self) -> None:
        self._stopped = False

    def install(self) -> StopFlag:
        """Route SIGTERM and SIGINT to this flag (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._set)
            signal.signal(signal.SIGINT, self._set)
        return self

    def _set(self, signum: int, frame: FrameType | None) -> None:
        self._stopped = True

    @property
    def stopped(self) -> bool:
        """Whether a stop was asked for."""
        return self._stopped


def make_socket(context: zmq.Context[zmq.Socket[bytes]], kind: int, hwm: int, linger_ms: int) -> zmq.Socket[bytes]:
    """A socket with explicit high-water marks (a receiving one's bounded in bytes, see
    :data:`RECEIVE_QUEUE_BYTES`), linger and TCP keepalives."""
    sock = context.socket(kind)
    receive_queue = hwm
    if kind == zmq.PULL:
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_PART_BYTES)  # a larger part drops the connection, unbuffered
        receive_queue = receive_queue_length(hwm)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, receive_queue)
    sock.setsockopt(zmq.LINGER, linger_ms)
    keepalive(sock)
    return sock


def receive_queue_length(hwm: int) -> int:
    """Messages one connection of a receiving socket may queue: ``hwm``, at most
    :data:`RECEIVE_QUEUE_BYTES` of the largest messages, at least one."""
    return max(1, min(hwm, RECEIVE_QUEUE_BYTES // MAX_PART_BYTES))


def bind(sock: zmq.Socket[bytes], address: str, role: str) -> None:
    """Bind, turning a busy or malformed address into a one-line error."""
    try:
        sock.bind(address)
    except zmq.ZMQError as error:
        raise PeerError(
            f"{role} cannot bind {address}: {error.strerror}; pick a free address in the scenario's "
            "network section or with --set"
        ) from None


def connect(sock: zmq.Socket[bytes], address: str, role: str) -> None:
    """Connect, turning a malformed address into a one-line error."""
    try:
        sock.connect(address)
    except zmq.ZMQError as error:
        raise PeerError(f"{role} cannot connect to {address}: {error.strerror}") from None


def receive(sock: zmq.Socket[bytes], watch: PeerWatch, stop: StopFlag, waits: Waits) -> list[bytes] | None:
    """The ZeroMQ parts of the next message (one, from semlink's nodes: see :mod:`semlink.wire.batch`),
    None when stopped.

    Waits as long as the peer is connected and sending; a slow peer (a long frame) never trips it.

    :raises PeerError: when the peer never connected within ``waits.peer_timeout_s``, went away,
        or stayed connected without sending for ``waits.stall_timeout_s``.
    """
    quiet_since = time.monotonic()
    while not stop.stopped:
        with contextlib.suppress(zmq.Again):  # a message waiting: no poll (half the calls of a busy relay)
            return sock.recv_multipart(zmq.NOBLOCK)
        if sock.poll(POLL_MS, zmq.POLLIN):
            continue
        if problem := watch.problem(quiet_since, waits, "has sent nothing"):
            raise PeerError(problem)
    return None


def send(
    sock: zmq.Socket[bytes], parts: list[bytes], sealer: Sealer, watch: PeerWatch, stop: StopFlag, waits: Waits
) -> bool:
    """Send ``parts`` (a frame's packets, or one control message) as one socket message under
    ``sealer``'s seal (:mod:`semlink.wire.seal`), waiting while the peer is slow; False when stopped.

    :raises PeerError: as :func:`send_message`; or when the message is larger than a socket message may be.
    """
    try:
        message = pack_parts(parts)
    except WireError as error:
        raise PeerError(f"cannot send a frame: {error}; lower the rate or the frame size") from None
    return send_message(sock, sealer.seal(message), watch, stop, waits)


def send_message(sock: zmq.Socket[bytes], message: bytes, watch: PeerWatch, stop: StopFlag, waits: Waits) -> bool:
    """Send one socket message already packed (:func:`~semlink.wire.pack_parts`), waiting while the
    peer is slow; False when stopped.

    :raises PeerError: when the peer never connected, went away, or took nothing for ``waits.stall_timeout_s``.
    """
    quiet_since = time.monotonic()
    while not stop.stopped:
        try:
            sock.send(message, zmq.NOBLOCK)
            return True
        except zmq.Again:  # the peer's queue is full: wait for room
            pass
        if sock.poll(POLL_MS, zmq.POLLOUT):
            continue
        if problem := watch.problem(quiet_since, waits, "has taken nothing"):
            raise PeerError(problem)
    return False


def wait_until_peer_leaves(watch: PeerWatch, stop: StopFlag, waits: Waits) -> bool:
    """After the last message: wait until the peer has closed its end (it has read everything).

    Closing first could lose the tail: over ``ipc://`` libzmq drops what the peer has not read
    yet when a full receive queue meets the sender's close (libzmq issue 4660), whatever the
    linger. The peer closes after the run's ``end``, so its leaving is the delivery receipt.
    Returns False when stopped or after ``waits.stall_timeout_s`` with the peer still there.

    :raises PeerError: when the peer never connected within ``waits.peer_timeout_s`` of the
        watch's start: what was "sent" only sits in this socket's queue, and waiting
        ``stall_timeout_s`` for a peer that was never there would hang the run.
    """
    deadline = time.monotonic() + waits.stall_timeout_s
    settled = time.monotonic() + SETTLE_S
    # the watch's thread may not have seen the connection yet, though messages went through it
    while (watch.connected or not watch.ever_connected) and not stop.stopped:
        now = time.monotonic()
        never = not watch.ever_connected and now >= settled
        if never and (problem := watch.problem(now, waits, "has taken nothing")):
            raise PeerError(problem)
        if now >= deadline:
            return False
        time.sleep(POLL_MS / 1000)
    return not stop.stopped
