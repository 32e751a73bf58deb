"""The seal on every socket message between two nodes: a sequence number and a keyed MAC.

The transmitter seals each socket message it sends to the channel, and the channel each one it
sends to the receiver, with its own sequence number (one counter per sender and run, started at
the sender's clock in ns and counting up) and a 16-byte keyed BLAKE2b tag. The keys come from
the run's secret (:func:`run_keys`), one per hop, so a message of one hop is never taken on the
other, and the id on the wire is derived from the secret too: reading the traffic gives away
neither the secret nor the keys. A receiving node drops a message whose tag fails
(``bad-mac``), whose number it has already accepted (``replay``) or that is older than one it
has (``stale``: reordered or delayed), and counts it.

A seal is 26 bytes before the message (fixed width, so reading it costs nothing)::

    0xC1 | kind (1 byte) | seq (8 bytes, big-endian) | tag (16 bytes) | body

``0xC1`` is the one byte msgpack never uses, so an unsealed message is never read as a sealed
one. The kind byte's low two bits are the kind; its upper six the **sender** (0-63): vehicles
spread over several transmitter processes (``vehicles.per_process``) share the hop's key, and each
numbers its messages from its own clock, so a receiving node keeps one window of numbers per
sender (a sender is authenticated like the number: the tag covers it).

Kind :data:`SEALED`: the body is a socket message of :mod:`~semlink.wire.batch`, and the
tag covers the seal's first 10 bytes and the body. Kind :data:`WRAPPED`: the body is a sealed
message of the hop before, forwarded unchanged (the channel's relay of a frame it did not
touch), and the tag covers the seal's first 10 bytes and the inner seal, whose own tag covers
its body: the relay hashes 36 bytes instead of the frame, and the receiver checks both tags.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass

from semlink.wire.batch import MAX_BATCH_BYTES
from semlink.wire.limits import WireError
from semlink.wire.packets import RUN_IDS

MARK = 0xC1
SEALED = 1
WRAPPED = 2
KIND_BITS = 2
"""Bits of the kind byte that hold the kind; the rest hold the sender."""
MAX_SENDERS = 1 << (8 - KIND_BITS)
"""Senders one hop tells apart (see the module docstring)."""
SEQ_BYTES = 8
TAG_BYTES = 16
HEAD_BYTES = 2 + SEQ_BYTES
"""The part of a seal its tag covers: mark, kind and sequence number."""
SEAL_BYTES = HEAD_BYTES + TAG_BYTES
MAX_SEALED_BYTES = MAX_BATCH_BYTES + 2 * SEAL_BYTES
"""The largest socket message between nodes: a batch under two seals (the channel's around the transmitter's)."""
WINDOW = 4096
"""Sequence numbers below the last accepted one that a :class:`Window` still tells apart (seen or not)."""


@dataclass(frozen=True)
class RunKeys:
    """What a run's secret gives: the id on the wire and a MAC key per hop.

    :param run_id: the id every message of the run carries.
    :param transmitter: the key of the transmitter's messages to the channel.
    :param channel: the key of the channel's messages to the receiver.
    """

    run_id: int
    transmitter: bytes
    channel: bytes


def run_keys(secret: int) -> RunKeys:
    """The wire id and the keys of the run whose secret is ``secret`` (``SEMLINK_RUN_ID``).

    Each is BLAKE2b of the secret under its own personalisation: one does not give away another,
    and the wire id is in :data:`~semlink.wire.packets.RUN_IDS` like every run id.
    """
    low, high = RUN_IDS
    number = int.from_bytes(_derive(secret, b"semlink run id", 8), "big")
    wire_id = low + number % (high - low + 1)
    return RunKeys(wire_id, _derive(secret, b"semlink tx>ch"), _derive(secret, b"semlink ch>rx"))


def _derive(secret: int, person: bytes, size: int = 32) -> bytes:
    """``size`` bytes of BLAKE2b over the secret's digits, personalised by ``person``."""
    return hashlib.blake2b(str(secret).encode(), digest_size=size, person=person).digest()


def _tag(key: bytes, head: bytes, covered: bytes | memoryview) -> bytes:
    """The keyed BLAKE2b tag of a seal's head and what it covers."""
    mac = hashlib.blake2b(head, key=key, digest_size=TAG_BYTES)
    mac.update(covered)
    return mac.digest()


@dataclass(frozen=True)
class Sealed:
    """A received socket message's seal, read but not yet checked.

    :param data: the message as received.
    :param start: where this seal begins in ``data`` (after the outer seal, for the inner one of a wrapped message).
    """

    data: bytes
    start: int = 0

    @property
    def kind(self) -> int:
        """:data:`SEALED` or :data:`WRAPPED`."""
        return self.data[self.start + 1] & (1 << KIND_BITS) - 1

    @property
    def sender(self) -> int:
        """Which of the hop's senders sealed it (0 where there is one)."""
        return self.data[self.start + 1] >> KIND_BITS

    @property
    def seq(self) -> int:
        """The sender's sequence number."""
        return int.from_bytes(self.data[self.start + 2 : self.start + HEAD_BYTES], "big")

    @property
    def body(self) -> memoryview:
        """What follows the seal (a batch, or the inner sealed message of a wrapped one), not copied."""
        return memoryview(self.data)[self.start + SEAL_BYTES :]

    def verify(self, key: bytes) -> bool:
        """Whether the tag is ``key``'s over what the seal's kind covers."""
        start = self.start
        covered = self.body if self.kind == SEALED else self.body[:SEAL_BYTES]
        tag = _tag(key, self.data[start : start + HEAD_BYTES], covered)
        return hmac.compare_digest(tag, self.data[start + HEAD_BYTES : start + SEAL_BYTES])

    def inner(self) -> Sealed:
        """The sealed message a wrapped one carries.

        :raises WireError: ``unsealed`` if it is not a sealed message of kind :data:`SEALED`.
        """
        return _checked(self.data, self.start + SEAL_BYTES, (SEALED,))


def read_seal(data: bytes, kinds: tuple[int, ...] = (SEALED, WRAPPED)) -> Sealed:
    """The seal of one socket message's bytes, its kind one of ``kinds``; nothing checked but its shape.

    :raises WireError: ``unsealed`` for a message too short for a seal or with another mark or kind.
    """
    return _checked(bytes(data), 0, kinds)


def _checked(data: bytes, start: int, kinds: tuple[int, ...]) -> Sealed:
    """The seal at ``start`` of ``data``, once its shape is known to be one of ``kinds``."""
    if len(data) - start < SEAL_BYTES or data[start] != MARK or data[start + 1] & (1 << KIND_BITS) - 1 not in kinds:
        shown = data[start : start + 2].hex() or "nothing"
        raise WireError("unsealed", f"{len(data) - start} bytes starting with {shown}")
    return Sealed(data, start)


def read_sealed(frames: Sequence[bytes], kinds: tuple[int, ...] = (SEALED, WRAPPED)) -> Sealed:
    """The seal of one received socket message, given its ZeroMQ parts (see :func:`read_seal`).

    :raises WireError: ``multipart`` for a message of several parts, ``unsealed`` as :func:`read_seal`.
    """
    if len(frames) != 1:
        raise WireError("multipart", f"{len(frames)} parts")
    return read_seal(frames[0], kinds)


class Sealer:
    """Seals one sender's socket messages with ``key``, numbering them from the sender's clock (ns).

    Starting at the clock, not at 1, makes the numbers of a later run with the same secret larger
    than an earlier run's, so a node that has begun this run refuses the earlier run's messages.

    :param key: the hop's key (:class:`RunKeys`).
    :param sender: this sender's number among the hop's senders (0-63; 0 where there is one).
    """

    def __init__(self, key: bytes, sender: int = 0) -> None:
        if not 0 <= sender < MAX_SENDERS:
            raise ValueError(f"a seal's sender is 0-{MAX_SENDERS - 1}, not {sender}")
        self.key, self.sender = key, sender
        self.seq = time.time_ns()

    def _head(self, kind: int) -> bytes:
        self.seq += 1
        return bytes((MARK, kind | self.sender << KIND_BITS)) + self.seq.to_bytes(SEQ_BYTES, "big")

    def seal(self, body: bytes) -> bytes:
        """``body`` (a packed batch) as a sealed socket message with the next sequence number."""
        head = self._head(SEALED)
        return head + _tag(self.key, head, body) + body

    def wrap(self, sealed: Sealed) -> bytes:
        """A sealed message of the hop before (as received, kind :data:`SEALED`), forwarded
        unchanged under this sender's seal."""
        if sealed.start or sealed.kind != SEALED:
            raise ValueError("only a received message of kind SEALED is wrapped")
        head = self._head(WRAPPED)
        return head + _tag(self.key, head, sealed.data[:SEAL_BYTES]) + sealed.data


class Window:
    """The sequence numbers one sender's messages were accepted with: the last, and which of the
    :data:`WINDOW` below it."""

    def __init__(self) -> None:
        self.last = 0
        self._bits = 0  # bit i: last - i accepted

    def seen(self, seq: int) -> bool:
        """Whether ``seq`` was marked (False for one older than the window)."""
        back = self.last - seq
        return 0 <= back < WINDOW and bool(self._bits >> back & 1)

    def verdict(self, seq: int) -> str | None:
        """None for a number after the last one, else ``replay`` (seen) or ``stale``."""
        if seq > self.last:
            return None
        return "replay" if self.seen(seq) else "stale"

    def mark(self, seq: int) -> int:
        """Record ``seq``; returns how many numbers it skipped past the last one (0 for the first)."""
        back = self.last - seq
        if back >= 0:
            self._bits |= (1 << back) if back < WINDOW else 0
            return 0
        skipped = -back - 1 if self.last else 0
        self._bits = ((self._bits << -back) | 1) & ((1 << WINDOW) - 1) if -back < WINDOW else 1
        self.last = seq
        return skipped


class Opener:
    """Checks the sealed messages of one hop: their tag under ``key``, each sender's numbers in order.

    :param key: the sender's hop key (:class:`RunKeys`).
    """

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._accepted: dict[int, Window] = {}
        self._passed: dict[int, Window] = {}
        self.skipped = 0
        """Numbers skipped between accepted messages (messages that never arrived), over every sender."""

    def accepted(self, sender: int = 0) -> Window:
        """The numbers accepted from ``sender``."""
        return self._accepted.setdefault(sender, Window())

    def passed(self, sender: int = 0) -> Window:
        """Numbers of ``sender`` a relay forwarded unchecked (:meth:`note`): a later copy is a ``replay``."""
        return self._passed.setdefault(sender, Window())

    def problem(self, sealed: Sealed) -> str | None:
        """Why ``sealed`` must be dropped (``bad-mac``, ``replay``, ``stale``), or None: then its
        number is accepted and anything older from its sender will be refused."""
        if not sealed.verify(self.key):
            return "bad-mac"
        seq, sender = sealed.seq, sealed.sender
        accepted = self.accepted(sender)
        verdict = accepted.verdict(seq)
        if verdict == "stale" and self.passed(sender).seen(seq):
            verdict = "replay"
        if verdict is None:
            self.skipped += accepted.mark(seq)
        return verdict

    def note(self, sealed: Sealed) -> None:
        """Remember the number of a message a relay let through without checking (see :meth:`passed`)."""
        self.passed(sealed.sender).mark(sealed.seq)
