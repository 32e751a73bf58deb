"""The seals at the nodes' sockets: what a stage sends to another process is sealed, and what
it receives is checked before the stage reads it (:mod:`semlink.wire.seal`).

The stages themselves know nothing of seals (in one process, ``transport: inproc``, there is no
socket to guard): :class:`SealedChannel` and :class:`SealedReceiver` stand between a socket and
its stage. What they drop is counted in the stage's counters by reason, and for the point that
ends next, like every other message a stage turns away, so it reaches the rows (``rejected``,
``rejected_by``): ``dropped:<reason>`` at the channel, ``rejected:<reason>`` at the receiver,
with the reasons ``unsealed``, ``bad-mac``, ``replay`` and ``stale``.
"""

from __future__ import annotations

import itertools
import logging
import operator
from collections import Counter

from semlink.channel.node import ChannelStage
from semlink.nodes.merging import Merger, arrival_of
from semlink.receiver.node import ReceiverStage
from semlink.wire import (
    REASONS,
    SEALED,
    WRAPPED,
    Batch,
    Opener,
    RunKeys,
    Sealed,
    Sealer,
    WireError,
    packet_prefix,
    read_sealed,
    unpack_parts,
)

LOG = logging.getLogger(__name__)
SEAL_REASONS = ("unsealed", "bad-mac", "replay", "stale", "bad-share", "after-end", "wrong-share")
Opened = tuple[Sealed, Batch]
"""A message whose seal held: the seal and its packets."""


def count(totals: Counter[str], point: Counter[str], name: str, number: int) -> None:
    """Count ``number`` messages turned away, for the run (``totals``) and the point that ends next (``point``)."""
    totals[name] += number
    point[name] += number


def say_once(totals: Counter[str], name: str, role: str) -> None:
    """Log the first message a seal turned away for each reason (the next ones are only counted);
    a MAC that fails from the start is most often a node given another run's secret."""
    reason = name.partition(":")[2]
    if reason in SEAL_REASONS and totals[name] == 1:
        hint = "; do all three nodes have the same SEMLINK_RUN_ID?" if reason == "bad-mac" else ""
        LOG.warning(
            "the %s turned a message away: %s, %s (more are counted, not logged)%s", role, reason, REASONS[reason], hint
        )


class SealedChannel:
    """The channel stage between its two sockets: checks the transmitter's seal on each message,
    and seals what goes on to the receiver with the channel's own numbers, so the delays and
    reordering of the channel model are never taken for a replay.

    A message is checked (tag, then number) before the stage reads any of it, with one
    exception that keeps the relay of an ideal point cheap: on a transparent point
    (:attr:`ChannelStage.transparent`), a message numbered after the last one checked whose
    packets all start as this run's touches no state here, so it goes on unchecked inside the
    channel's seal (:meth:`~semlink.wire.Sealer.wrap`, 36 bytes hashed, not the frame) and the
    receiver checks the transmitter's tag and number on it.

    With vehicles spread over several transmitter processes, a :class:`~semlink.nodes.merging.Merger`
    puts their messages back in the run's order before the stage reads them.

    :param stage: the channel stage. :param keys: the run's keys.
    :param merger: orders the messages of several transmitters (None: one transmitter).
    """

    def __init__(self, stage: ChannelStage, keys: RunKeys, merger: Merger[Opened] | None = None) -> None:
        self.stage = stage
        self.inbound = Opener(keys.transmitter)
        self.outbound = Sealer(keys.channel)
        self.prefix = packet_prefix(stage.run_id)
        self.merger = merger

    def relay(self, frames: list[bytes]) -> list[bytes]:
        """One socket message from the transmitter (its ZeroMQ parts) -> the sealed socket messages
        to send to the receiver (none for a message dropped, counted, or held by the merger).

        When every packet goes on unchanged (an ideal point, or a lossy one that lost nothing this
        frame), that is the message as it came, under the channel's seal: neither packed nor hashed again.

        :raises WireError: ``too-large`` for a packet too large to forward in a socket message.
        """
        opened = self._open(frames)
        if opened is None:
            return []
        if self.merger is None:
            return self._forward(opened)
        sealed, batch = opened
        held = len(sealed.data) + sum(len(part) for part in batch.parts)  # the message and its unpacked parts
        arrival = arrival_of(batch.parts, self.stage.run_id, sealed.sender, held)
        if reason := self.merger.refusal(arrival):
            count(self.stage.counters, self.stage.point_dropped, f"dropped:{reason}", 1)
            say_once(self.stage.counters, f"dropped:{reason}", "channel")
            return []
        ready = self.merger.push(arrival, opened)
        return [message for item in ready for message in self._forward(item)]

    def _open(self, frames: list[bytes]) -> Opened | None:
        """The message's seal and packets once its seal holds, else None (counted)."""
        try:
            sealed = read_sealed(frames, (SEALED,))
            batch = self._unchecked(sealed)
            if batch is None:
                if problem := self.inbound.problem(sealed):
                    raise WireError(problem)
                batch = unpack_parts(sealed.body)
        except WireError as error:
            count(self.stage.counters, self.stage.point_dropped, f"dropped:{error.reason}", 1)
            say_once(self.stage.counters, f"dropped:{error.reason}", "channel")
            return None
        if batch.skipped:
            count(self.stage.counters, self.stage.point_dropped, "dropped:too-many-parts", batch.skipped)
        return sealed, batch

    def _forward(self, opened: Opened) -> list[bytes]:
        """The stage's output for one opened message, sealed for the receiver."""
        sealed, batch = opened
        out = self.stage.process(batch.parts)
        if not out:
            return []
        if not batch.skipped and len(out) == len(batch.parts) and all(map(operator.is_, out, batch.parts)):
            return [self.outbound.wrap(sealed)]
        return [self.outbound.seal(message) for message in self.stage.packed(out)]

    def _unchecked(self, sealed: Sealed) -> Batch | None:
        """The packets of a message that may go on unchecked (see the class's docstring; its number
        is then noted), else None. Never with a merger: it orders only messages whose seal held."""
        if self.merger is not None or not self.stage.transparent:
            return None
        if sealed.seq <= self.inbound.accepted(sealed.sender).last:
            return None
        try:
            batch = unpack_parts(sealed.body)
        except WireError:
            return None  # checked, and then counted by what is wrong first
        if batch.skipped or not all(map(bytes.startswith, batch.parts, itertools.repeat(self.prefix))):
            return None
        self.inbound.note(sealed)
        return batch


class SealedReceiver:
    """The receiver stage behind its socket: checks the channel's seal on each message, and the
    transmitter's inside a message the channel forwarded untouched (:data:`~semlink.wire.WRAPPED`).

    :param stage: the receiver stage. :param keys: the run's keys.
    """

    def __init__(self, stage: ReceiverStage, keys: RunKeys) -> None:
        self.stage = stage
        self.from_channel = Opener(keys.channel)
        self.from_transmitter = Opener(keys.transmitter)

    def handle(self, frames: list[bytes]) -> None:
        """One socket message from the channel (its ZeroMQ parts): to the stage if its seals hold,
        else counted (``rejected:<reason>``)."""
        try:
            batch = unpack_parts(self._opened(frames))
        except WireError as error:
            count(self.stage.counters, self.stage.point_rejected, f"rejected:{error.reason}", 1)
            say_once(self.stage.counters, f"rejected:{error.reason}", "receiver")
            return
        if batch.skipped:
            count(self.stage.counters, self.stage.point_rejected, "rejected:too-many-parts", batch.skipped)
        self.stage.handle(batch.parts)

    def _opened(self, frames: list[bytes]) -> memoryview:
        """The body of a message whose seals hold.

        :raises WireError: ``multipart``, ``unsealed``, ``bad-mac``, ``replay`` or ``stale``.
        """
        sealed = read_sealed(frames)
        if problem := self.from_channel.problem(sealed):
            raise WireError(problem)
        if self.from_channel.skipped:  # numbers the channel sealed that never came: in the log, not the rows
            self.stage.counters["missing-messages"] = self.from_channel.skipped
        if sealed.kind == WRAPPED:
            sealed = sealed.inner()
            if problem := self.from_transmitter.problem(sealed):
                raise WireError(problem)
        return sealed.body
