"""ZeroMQ plumbing shared by the three nodes: sockets with explicit limits, and clean stops on signals."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import zmq
from zmq.utils.monitor import recv_monitor_message

from semlink.wire import MAX_BATCH_BYTES, WireError, pack_parts

POLL_MS = 200
COUNTERS_PREFIX = "counters:"
"""How a node's counters line starts in its log (``semlink run`` repeats the rejections it finds)."""
MAX_PART_BYTES = MAX_BATCH_BYTES + 64  # one socket message: a frame's packets (semlink.wire.batch)


class PeerError(RuntimeError):
    """A peer never showed up or stopped answering within the scenario's timeout."""


class StopFlag:
    """Set by SIGTERM/SIGINT so the node loops finish cleanly instead of dying mid-message."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> StopFlag:
        """Route SIGTERM and SIGINT to this flag (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._set)
            signal.signal(signal.SIGINT, self._set)
        return self

    def _set(self, signum: int, frame: FrameType | None) -> None:
        self.event.set()

    @property
    def stopped(self) -> bool:
        """Whether a stop was asked for."""
        return self.event.is_set()


def make_socket(context: zmq.Context[zmq.Socket[bytes]], kind: int, hwm: int, linger_ms: int) -> zmq.Socket[bytes]:
    """A socket with explicit high-water marks and linger."""
    sock = context.socket(kind)
    if kind == zmq.PULL:
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_PART_BYTES)  # a larger part drops the connection, unbuffered
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.LINGER, linger_ms)
    return sock


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


def connect_and_wait(
    sock: zmq.Socket[bytes], address: str, role: str, stop: StopFlag, timeout_s: float, peer: str
) -> bool:
    """Connect and block until the connection is live; False when stopped.

    The socket's monitor is attached before connecting (monitors do not replay events), and its
    ``EVENT_CONNECTED`` tells the node its peer is there: no sleeping, and a clear error when the
    peer never shows up.

    :raises PeerError: after ``timeout_s`` without a connection, or for a malformed address.
    """
    monitor = sock.get_monitor_socket(zmq.EVENT_CONNECTED)
    try:
        connect(sock, address, role)
        waited = 0.0
        while not stop.stopped:
            if monitor.poll(POLL_MS, zmq.POLLIN):
                if recv_monitor_message(monitor)["event"] == zmq.EVENT_CONNECTED:
                    return True
                continue
            waited += POLL_MS / 1000
            if waited >= timeout_s:
                raise PeerError(
                    f"{peer} never showed up within {timeout_s:g} s; is it running? "
                    "(network.peer_timeout_s sets the wait)"
                )
        return False
    finally:
        sock.disable_monitor()
        monitor.close()


def receive(sock: zmq.Socket[bytes], stop: StopFlag, timeout_s: float, waiting_for: str) -> list[bytes] | None:
    """The ZeroMQ parts of the next message (one, from semlink's nodes: see :mod:`semlink.wire.batch`),
    None when stopped; :class:`PeerError` after ``timeout_s`` of silence."""
    waited = 0.0
    while not stop.stopped:
        if sock.poll(POLL_MS, zmq.POLLIN):
            return sock.recv_multipart()
        waited += POLL_MS / 1000
        if waited >= timeout_s:
            raise PeerError(
                f"no message from {waiting_for} for {timeout_s:g} s; is it running? "
                "(network.peer_timeout_s sets the wait)"
            )
    return None


def send(sock: zmq.Socket[bytes], parts: list[bytes], stop: StopFlag, timeout_s: float, peer: str) -> bool:
    """Send ``parts`` (a frame's packets, or one control message) as one socket message, waiting
    while the peer is slow; False when stopped.

    :raises PeerError: when the peer takes nothing for ``timeout_s``, or the message is larger than
        a socket message may be.
    """
    try:
        message = pack_parts(parts)
    except WireError as error:
        raise PeerError(f"cannot send a frame: {error}; lower the rate or the frame size") from None
    waited = 0.0
    while not stop.stopped:
        if sock.poll(POLL_MS, zmq.POLLOUT):
            sock.send(message)
            return True
        waited += POLL_MS / 1000
        if waited >= timeout_s:
            raise PeerError(
                f"{peer} took nothing for {timeout_s:g} s; is it running? (network.peer_timeout_s sets the wait)"
            )
    return False
