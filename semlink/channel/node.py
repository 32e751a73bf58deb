"""The channel stage: applies a point's channel model and impairments to each frame's packets."""

from __future__ import annotations

import logging
import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from semlink.channel.base import CORRUPTED, DELIVERED, ChannelModel, PacketBatch
from semlink.channel.cell.group import CellGroup, CellPlan
from semlink.channel.impairments import Impairments, Schedule
from semlink.wire import (
    ControlMessage,
    End,
    PointEnd,
    PointStart,
    Relayed,
    WireError,
    chunk_span,
    decode_message,
    encode_message,
    pack_parts,
    packet_prefix,
    read_message,
    relay_view,
    split_parts,
)

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelPlan:
    """What the channel needs of one sweep point.

    :param key: the point's stable key (checked against the transmitter's).
    :param make_model: builds the point's channel model.
    :param impairments: delay, jitter, reordering, duplication, rate.
    :param seed: entropy of the point's channel random stream.
    :param cell: the cell its vehicle shares with the realisation's others (None: a link of its own).
    :param vehicle: which vehicle of the cell.
    """

    key: str
    make_model: Callable[[], ChannelModel]
    impairments: Impairments
    seed: tuple[int, ...]
    cell: CellPlan | None = None
    vehicle: int = 0


FATE_NAMES = ("delivered", "erased", "corrupted")


class ChannelStage:
    """Forwards control messages untouched and data packets through the point's channel.

    Every packet's run id (and its CRC, except on a transparent point, see :meth:`process`) is
    checked before it touches any state (the model, its random stream, the link's queue): messages
    of another run are counted (``dropped:foreign-run``) and dropped, so they never change a row;
    they are reported with the point that ends next. A control message of the run that arrives
    before its first ``point-start`` (an ``end`` forged before the transmitter connected) is
    dropped too (``dropped:before-start``): only a run that began can end.

    :param plans: point index -> its plan.
    :param run_id: the run whose messages this stage relays.
    """

    def __init__(self, plans: dict[int, ChannelPlan], run_id: int) -> None:
        self.plans, self.run_id = plans, run_id
        self.model: ChannelModel | None = None
        self.impairments = Impairments()
        self.rng = np.random.default_rng(0)
        self.busy_until_us = 0
        self.counters: Counter[str] = Counter()
        self.point_dropped: Counter[str] = Counter()  # drops since the last point ended (reported at the next end)
        self.ended = False
        self.heard_run = False
        """Whether a control message of this run has arrived (its sender is the real transmitter)."""
        self.started = False
        """Whether a ``point-start`` of this run has arrived: before it, an ``end`` or a
        ``point-end`` comes from no transmitter of the run and is dropped (``before-start``)."""
        self.prefix = packet_prefix(run_id)
        self.transparent = False
        """Whether the open point's packets go on unread (see :meth:`process`)."""
        self._fates_at_start: dict[str, int] = {}
        self.cell: CellGroup | None = None
        """The cell whose vehicles' units are being held (see :mod:`semlink.channel.cell.group`)."""
        self.vehicle: int | None = None
        """The vehicle of the cell whose unit is open (None: no cell unit is open)."""
        self.message_groups: list[list[bytes]] | None = None
        """How the last :meth:`process` output goes as socket messages when it is a cell's flush (a
        message per control message and per frame, so the receiver's queue holds as much work as
        with a single link), else None (one message)."""

    def relay_messages(self, frames: list[bytes]) -> list[bytes]:
        """One socket message (its ZeroMQ parts) -> the socket messages to forward (none, one, or
        a cell's every vehicle at once when its last vehicle ends).

        When every packet goes on unchanged (an ideal point, or a lossy one that lost nothing this
        frame), that is the message as it came, so a busy relay does not pack it again.
        """
        try:
            batch = read_message(frames)
        except WireError as error:
            self._drop(error.reason)
            return []
        if batch.skipped:
            self._drop("too-many-parts", batch.skipped)
        out = self.process(batch.parts)
        if not out:
            return []
        if not batch.skipped and len(out) == len(batch.parts) and all(map(operator.is_, out, batch.parts)):
            return [frames[0]]
        return self.packed(out)

    def packed(self, out: list[bytes]) -> list[bytes]:
        """The socket messages carrying :meth:`process`'s last output ``out``: one (split where it
        exceeds a message's bounds), or for a cell's flush one per control message and per frame
        (:attr:`message_groups`)."""
        return [pack_parts(run) for group in self.message_groups or [out] for run in split_parts(group)]

    def relay_message(self, frames: list[bytes]) -> bytes | None:
        """:meth:`relay_messages` for a relay that forwards one message at most (None for nothing).

        :raises WireError: ``too-large`` if the output needs several messages (a cell's flush).
        """
        out = self.relay_messages(frames)
        if len(out) > 1:
            raise WireError("too-large", f"{len(out)} messages to forward; use relay_messages")
        return out[0] if out else None

    def process(self, parts: list[bytes]) -> list[bytes]:
        """One incoming message -> the parts to forward (in arrival order).

        On a transparent point (:attr:`ChannelModel.transparent`, no impairments) a part that starts
        like this run's packets (:func:`~semlink.wire.packet_prefix`) goes on unread: its CRC and
        fields are checked by the receiver, as for every packet, and it touches no state here.
        """
        self.message_groups = None
        if self.transparent and all(part.startswith(self.prefix) for part in parts):
            self.counters["delivered"] += len(parts)
            return parts
        if len(parts) == 1:
            try:
                view = relay_view(parts[0])
                control = decode_message(parts[0]).message if view is None else None
            except WireError as error:
                self._drop(error.reason)
                return []
            if isinstance(control, PointStart | PointEnd | End):
                if control.run_id != self.run_id:
                    self._drop("foreign-run")
                    return []
                if not self.started and not isinstance(control, PointStart):
                    # nothing of the run has begun: no transmitter sent this (a forged or stray
                    # end must not end a run before its peer connected)
                    LOG.warning("a %s of this run before its first point-start: dropped", control.kind)
                    self._drop("before-start")
                    return []
                self.started = self.heard_run = True
                return self._control(control, parts)
        return self._packets(parts)

    def _drop(self, reason: str, count: int = 1) -> None:
        """Count a dropped message, for the run and for the point that ends next."""
        self.counters[f"dropped:{reason}"] += count
        self.point_dropped[f"dropped:{reason}"] += count

    def _control(self, control: ControlMessage, parts: list[bytes]) -> list[bytes]:
        """Act on a control message; returns what to forward (a ``point-end`` gains the radio's
        totals and what the channel dropped since the last point ended)."""
        if isinstance(control, PointStart):
            plan = self.plans.get(control.point)
            if plan is not None and plan.cell is not None and plan.key == control.key:
                return self._cell_start(plan, plan.cell, parts)
            self.vehicle = None
        elif isinstance(control, PointEnd) and self.vehicle is not None:
            return self._cell_end(control)
        self._apply(control)
        if not isinstance(control, PointEnd):
            return parts
        self._log_point(control.point)
        stats = self.model.stats() if self.model is not None else {}
        dropped, self.point_dropped = dict(self.point_dropped), Counter()
        if not stats and not dropped:
            return parts
        try:
            return [encode_message(control.with_channel(stats, dropped))]
        except WireError:  # no room left under the wire's limit: the row goes without the radio's columns
            self.counters["radio-stats-dropped"] += 1
        return parts

    def _log_point(self, point: int) -> None:
        """Log a point's packet fates and drops as it ends."""
        fates = {name: self.counters[name] - self._fates_at_start.get(name, 0) for name in FATE_NAMES}
        dropped = " ".join(f"{name}={count}" for name, count in sorted(self.point_dropped.items()))
        LOG.info(
            "point %d relayed: %s%s",
            point,
            ", ".join(f"{count} {name}" for name, count in fates.items()),
            f"; {dropped}" if dropped else "",
        )

    def _apply(self, control: ControlMessage) -> None:
        if isinstance(control, End):
            self.ended = True
        if not isinstance(control, PointStart):
            return
        plan = self.plans.get(control.point)
        if plan is None or plan.key != control.key:
            # Another scenario's point: count it and drop its packets until the next point.
            self.counters["unknown-point"] += 1
            self.model = None
            self.transparent = False
            return
        self._fates_at_start = {name: self.counters[name] for name in FATE_NAMES}
        self.model = plan.make_model()
        self.model.reset()
        self.impairments = plan.impairments
        self.transparent = self.model.transparent and not self.impairments.is_active
        self.rng = np.random.default_rng(np.random.SeedSequence(list(plan.seed)))
        self.busy_until_us = 0

    def _cell_start(self, plan: ChannelPlan, cell: CellPlan, parts: list[bytes]) -> list[bytes]:
        """A vehicle's unit of a cell begins: hold it (a new realisation opens a new cell)."""
        if self.cell is None or self.cell.plan.group != cell.group:
            self.cell = CellGroup(cell)
        self.cell.start(plan.vehicle, parts[0])
        self.vehicle, self.model, self.transparent = plan.vehicle, None, False
        return []

    def _cell_end(self, control: PointEnd) -> list[bytes]:
        """A vehicle's unit of a cell ends: once every vehicle has, the cell runs and all of them go on."""
        assert self.cell is not None and self.vehicle is not None
        complete = self.cell.end(self.vehicle, control)
        self.vehicle = None
        if not complete:
            return []
        dropped, self.point_dropped = dict(self.point_dropped), Counter()
        groups = self.cell.flush(dropped)
        out = [part for group in groups for part in group]
        LOG.info("cell %d relayed: %d vehicles, %d parts", self.cell.plan.group, self.cell.plan.vehicles, len(out))
        self.cell, self.message_groups = None, groups
        return out

    def _packets(self, parts: list[bytes]) -> list[bytes]:
        views: list[Relayed] = []
        raws: list[bytes] = []
        run_id = self.run_id
        for part in parts:
            try:
                view = relay_view(part)
            except WireError as error:
                self._drop(error.reason)
                continue
            if view is None:
                self._drop("control-in-data")
                continue
            if view.run_id != run_id:
                self._drop("foreign-run")
                continue
            views.append(view)
            raws.append(part)
        if views and self.cell is not None and self.vehicle is not None:
            self.cell.add(self.vehicle, views, raws)
            return []
        if not views or self.model is None:
            if views:
                self._drop("no-point", len(views))
            return []
        size_bits = np.fromiter((8 * len(raw) for raw in raws), dtype=np.int64, count=len(raws))
        send = np.fromiter((v.t_us for v in views), dtype=np.int64, count=len(views))
        sent = self.model.transmit(PacketBatch(size_bits, send, tuple(v.stream for v in views)), self.rng)
        in_order = sent.done_us is None and not self.impairments.is_active
        if in_order:  # each packet arrives once, in sending order, at its send time
            schedule = Schedule(np.arange(send.size), send, self.busy_until_us)
        else:
            left = send if sent.done_us is None else sent.done_us
            schedule = self.impairments.schedule(left, size_bits, self.rng, self.busy_until_us)
            self.busy_until_us = schedule.busy_until_us
        copies = sent.fates[schedule.index]
        for name, count in zip(FATE_NAMES, np.bincount(copies, minlength=len(FATE_NAMES)).tolist(), strict=True):
            self.counters[name] += count
        if in_order and not (copies != DELIVERED).any():
            return raws  # every packet delivered once, in order, at its own time: the bytes as they came
        out = []
        for index, arrival, fate in zip(
            schedule.index.tolist(), schedule.arrival_us.tolist(), copies.tolist(), strict=True
        ):
            if fate in (DELIVERED, CORRUPTED):
                data = self._stamped(views[index], raws[index], int(arrival))
                out.append(self._damage(data, sent.flips.get(index)) if fate == CORRUPTED else data)
        return out

    def _stamped(self, view: Relayed, raw: bytes, arrival_us: int) -> bytes:
        """The packet with its arrival time: the same bytes when the time is unchanged, else
        re-encoded with a fresh CRC (the old one was checked on arrival)."""
        if arrival_us == view.t_us:
            return raw
        return view.with_time(arrival_us)

    def _damage(self, data: bytes, flips: np.ndarray | None) -> bytes:
        """Bit errors. Without ``deliver_corrupt`` they land anywhere and the receiver's CRC drops the packet;
        with it they land in the chunk bytes only: the header and the payload's framing are covered by a
        header checksum, as UDP-Lite's partial coverage does, so the damaged chunks reach the decoder.

        :param flips: the bit positions (of the whole packet) the model's decoder got wrong, where it
            knows them (a link-level radio); else the model's :meth:`~ChannelModel.corrupt` draws them.
        """
        assert self.model is not None
        if flips is not None:
            return self._flipped(data, flips)
        if not self.model.deliver_corrupt:
            return self.model.corrupt(data, self.rng)
        start, end = chunk_span(data)
        if start >= end:
            return data
        return data[:start] + self.model.corrupt(data[start:end], self.rng) + data[end:]

    def _flipped(self, data: bytes, flips: np.ndarray) -> bytes:
        """``data`` with the given bits flipped; with ``deliver_corrupt`` only those in the chunk bytes."""
        assert self.model is not None
        if self.model.deliver_corrupt:
            start, end = chunk_span(data)
            flips = flips[(flips >= 8 * start) & (flips < 8 * end)]
        flips = flips[flips < 8 * len(data)]
        if not flips.size:
            return data
        out = np.frombuffer(data, dtype=np.uint8).copy()
        np.bitwise_xor.at(out, flips >> 3, np.left_shift(1, 7 - (flips & 7)).astype(np.uint8))
        return out.tobytes()
