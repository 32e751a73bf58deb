"""Whether a node's peer is there: TCP keepalives and a thread that follows each socket's connections.

Liveness never depends on frame work. A killed process's kernel closes its connections at once
(over ``ipc://`` and TCP alike); between hosts, the kernels' TCP keepalives (every
:data:`KEEPALIVE_IVL_S` after :data:`KEEPALIVE_IDLE_S` idle, dropped after
:data:`KEEPALIVE_PROBES` unanswered probes) drop a connection to a host that is gone. A
:class:`PeerWatch` thread reads the socket's monitor events and keeps the set of open
connections, so the node's loops can tell three cases apart:

* the peer never connected (wait at most ``network.peer_timeout_s``),
* the peer was connected and its last connection is gone for :data:`GONE_AFTER_S` (it died),
* the peer is connected but sends or takes nothing (a stall, a frozen process: wait
  ``network.stall_timeout_s``).

Not ZMTP heartbeats, on purpose: libzmq stops reading a connection whose receive queue is full,
so it misses the peer's heartbeat replies and drops a healthy connection whenever the reader
works longer than the heartbeat timeout, losing the messages queued in it (measured here: a
reader taking 2.5 s a message under a 2 s timeout lost 5 of 12 messages over ``ipc://``), and
a peer that disconnects while the queue is full can abort the process inside libzmq (``Assertion
failed: !_io_error``, libzmq issues 4841 and 4830; seen under the fuzz benchmark). Kernel
keepalives are answered whatever the application does. Written here because pyzmq offers the
monitor events but nothing that turns them into a peer's state.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass

import zmq
from zmq.utils.monitor import recv_monitor_message

KEEPALIVE_IDLE_S = 1
"""Seconds a TCP connection may be idle before its kernel probes the peer (``ZMQ_TCP_KEEPALIVE_IDLE``)."""
KEEPALIVE_IVL_S = 1
"""Seconds between probes (``ZMQ_TCP_KEEPALIVE_INTVL``)."""
KEEPALIVE_PROBES = 3
"""Unanswered probes after which the kernel drops the connection (``ZMQ_TCP_KEEPALIVE_CNT``)."""
GONE_AFTER_S = 0.5
"""A peer whose last connection closed and did not come back within this long is reported gone
(a connecting socket reconnects within a fraction of a second when its peer is still there)."""
WATCH_POLL_MS = 100
LOG = logging.getLogger(__name__)

_EVENTS = zmq.EVENT_CONNECTED | zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED


def keepalive(sock: zmq.Socket[bytes]) -> None:
    """Turn on TCP keepalives on ``sock``'s connections (no effect over ``ipc://``)."""
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
    sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, KEEPALIVE_IDLE_S)
    sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, KEEPALIVE_IVL_S)
    sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, KEEPALIVE_PROBES)


@dataclass(frozen=True)
class Waits:
    """How long a node waits on a peer.

    :param peer_timeout_s: for a peer that has not connected yet.
    :param stall_timeout_s: for a connected peer that sends or takes nothing.
    """

    peer_timeout_s: float
    stall_timeout_s: float


class PeerWatch:
    """Follows the connections of one socket from a thread of its own.

    Create it before the socket binds or connects (monitors do not replay events) and
    :meth:`close` it before the socket. A connection counts from its ``EVENT_CONNECTED`` or
    ``EVENT_ACCEPTED`` to its ``EVENT_DISCONNECTED``, matched by file descriptor, so a stranger's
    connection that comes and goes never makes the real peer look gone.

    A bound socket cannot tell its peer's connection from a stranger's, so its watch starts
    untrusted: until the node calls :meth:`trust` (after the first message of its own run), a
    closed connection means nothing and the peer counts as not there yet
    (``network.peer_timeout_s``); otherwise a stranger who connected and left before the real
    peer would fail the run as "went away".

    :param sock: the socket to follow. :param peer: how messages name the peer.
    :param trusted: whether every connection is the peer's (True for a socket that connects to
        the peer's address; False for a bound one).
    """

    def __init__(self, sock: zmq.Socket[bytes], peer: str, trusted: bool = True) -> None:
        self.sock, self.peer = sock, peer
        self.trusted = trusted
        self.started = time.monotonic()
        self._monitor = sock.get_monitor_socket(_EVENTS)
        self._open: set[int] = set()
        self._ever = False
        self._last_change = self.started
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"watch {peer}", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            while not self._closing.is_set():
                if self._monitor.poll(WATCH_POLL_MS, zmq.POLLIN):
                    event = recv_monitor_message(self._monitor)
                    self._record(int(event["event"]), event["value"])
        finally:
            self._monitor.close(linger=0)

    def _record(self, kind: int, descriptor: object) -> None:
        if not isinstance(descriptor, int):
            return
        with self._lock:
            if kind in (zmq.EVENT_CONNECTED, zmq.EVENT_ACCEPTED):
                if not self._ever:
                    LOG.info("%s: connected", self.peer)
                self._open.add(descriptor)
                self._ever = True
            elif kind == zmq.EVENT_DISCONNECTED:
                self._open.discard(descriptor)
                LOG.debug("%s: a connection closed (%d open)", self.peer, len(self._open))
            self._last_change = time.monotonic()

    def trust(self) -> None:
        """The peer has sent a message of this run: from now on its connections are its own."""
        if not self.trusted:
            LOG.debug("%s: its first message of this run arrived", self.peer)
        self.trusted = True

    @property
    def connected(self) -> bool:
        """Whether the peer has a connection open now."""
        with self._lock:
            return bool(self._open)

    @property
    def ever_connected(self) -> bool:
        """Whether the peer connected at least once."""
        with self._lock:
            return self._ever

    @property
    def connected_since(self) -> float:
        """``time.monotonic()`` of the last connection change (the start, before any)."""
        with self._lock:
            return self._last_change

    @property
    def gone(self) -> bool:
        """The (trusted) peer was connected and has had no connection for :data:`GONE_AFTER_S`."""
        with self._lock:
            closed_for = time.monotonic() - self._last_change
            return self.trusted and self._ever and not self._open and closed_for >= GONE_AFTER_S

    def problem(self, quiet_since: float, waits: Waits, doing: str) -> str | None:
        """What is wrong with the peer after nothing moved since ``quiet_since``, or None.

        :param doing: what the peer failed to do, for the stall message (``"sent nothing"``).
        """
        now = time.monotonic()
        if self.gone:
            return (
                f"{self.peer} went away (its connection closed): it stopped, crashed or was killed, "
                "or its host is unreachable; see its log"
            )
        if not self.ever_connected or not (self.trusted or self.connected):
            if now - self.started < waits.peer_timeout_s:
                return None
            came_and_went = " (a connection came and went without a message of this run)" if self.ever_connected else ""
            return (
                f"{self.peer} never showed up within {waits.peer_timeout_s:g} s{came_and_went}; is it running? "
                "(network.peer_timeout_s sets the wait)"
            )
        if self.connected and now - max(quiet_since, self.connected_since) >= waits.stall_timeout_s:
            return (
                f"{self.peer} is connected but {doing} for {waits.stall_timeout_s:g} s: it is alive but stalled "
                "(network.stall_timeout_s sets the wait)"
            )
        return None

    def close(self) -> None:
        """Stop following (before the socket closes)."""
        self._closing.set()
        self._thread.join(timeout=2 * WATCH_POLL_MS / 1000 + 1)
        with contextlib.suppress(zmq.ZMQError):
            self.sock.disable_monitor()
