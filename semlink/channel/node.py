"""The channel stage: applies a point's channel model and impairments to each frame's packets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import msgpack
import numpy as np

from semlink.channel.base import CORRUPTED, DELIVERED, ChannelModel
from semlink.channel.impairments import Impairments
from semlink.wire import Control, Relayed, WireError, decode, relay_view


@dataclass(frozen=True)
class ChannelPlan:
    """What the channel needs of one sweep point.

    :param key: the point's stable key (checked against the transmitter's).
    :param make_model: builds the point's channel model.
    :param impairments: delay, jitter, reordering, duplication, rate.
    :param seed: entropy of the point's channel random stream.
    """

    key: str
    make_model: Callable[[], ChannelModel]
    impairments: Impairments
    seed: tuple[int, ...]


FATE_NAMES = ("delivered", "erased", "corrupted")


class ChannelStage:
    """Forwards control messages untouched and data packets through the point's channel.

    :param plans: point index -> its plan.
    """

    def __init__(self, plans: dict[int, ChannelPlan]) -> None:
        self.plans = plans
        self.model: ChannelModel | None = None
        self.impairments = Impairments()
        self.rng = np.random.default_rng(0)
        self.busy_until_us = 0
        self.counters: Counter[str] = Counter()
        self.ended = False

    def process(self, parts: list[bytes]) -> list[bytes]:
        """One incoming message -> the parts to forward (in arrival order)."""
        if len(parts) == 1:
            try:
                view = relay_view(parts[0])
                control = decode(parts[0]).message if view is None else None
            except WireError as error:
                self.counters[f"dropped:{error.reason}"] += 1
                return []
            if isinstance(control, Control):
                self._control(control)
                return parts
        return self._packets(parts)

    def _control(self, control: Control) -> None:
        if control.kind == "end":
            self.ended = True
        if control.kind != "point-start":
            return
        plan = self.plans.get(control.point)
        if plan is None or plan.key != control.body.get("key"):
            # Another scenario's point: count it and drop its packets until the next point.
            self.counters["unknown-point"] += 1
            self.model = None
            return
        self.model = plan.make_model()
        self.model.reset()
        self.impairments = plan.impairments
        self.rng = np.random.default_rng(np.random.SeedSequence(list(plan.seed)))
        self.busy_until_us = 0

    def _packets(self, parts: list[bytes]) -> list[bytes]:
        views: list[Relayed] = []
        raws: list[bytes] = []
        sizes: list[int] = []
        for part in parts:
            try:
                view = relay_view(part, verify_crc=False)  # checked below only where re-encoded
            except WireError as error:
                self.counters[f"dropped:{error.reason}"] += 1
                continue
            if view is None:
                self.counters["dropped:control-in-data"] += 1
                continue
            views.append(view)
            raws.append(part)
            sizes.append(8 * len(part))
        if not views or self.model is None:
            self.counters["dropped:no-point"] += len(views)
            return []
        size_bits = np.array(sizes, dtype=np.int64)
        fates = self.model.fates(size_bits, self.rng)
        send = np.array([v.t_us for v in views], dtype=np.int64)
        schedule = self.impairments.schedule(send, size_bits, self.rng, self.busy_until_us)
        self.busy_until_us = schedule.busy_until_us
        out = []
        copies = fates[schedule.index]
        for name, count in zip(FATE_NAMES, np.bincount(copies, minlength=len(FATE_NAMES)).tolist(), strict=True):
            self.counters[name] += count
        for index, arrival, fate in zip(
            schedule.index.tolist(), schedule.arrival_us.tolist(), copies.tolist(), strict=True
        ):
            if fate in (DELIVERED, CORRUPTED):
                data = self._stamped(views[index], raws[index], int(arrival))
                if data is not None:
                    out.append(self._damage(data) if fate == CORRUPTED else data)
        return out

    def _stamped(self, view: Relayed, raw: bytes, arrival_us: int) -> bytes | None:
        """The packet with its arrival time: the same bytes when the time is unchanged (the receiver
        checks their CRC), else re-encoded after the CRC is checked here (None, counted, if bad)."""
        if arrival_us == view.t_us:
            return raw
        try:
            view.check_crc(raw)
        except WireError as error:
            self.counters[f"dropped:{error.reason}"] += 1
            return None
        return view.with_time(arrival_us)

    def _damage(self, data: bytes) -> bytes:
        """Bit errors. Without ``deliver_corrupt`` they land anywhere and the receiver's CRC drops the packet;
        with it they land in the chunk bytes only: the header and the payload's framing are covered by a
        header checksum, as UDP-Lite's partial coverage does, so the damaged chunks reach the decoder."""
        assert self.model is not None
        if not self.model.deliver_corrupt:
            return self.model.corrupt(data, self.rng)
        items = msgpack.unpackb(data)
        chunk_count, frag_count = int(items[6]), int(items[8])
        framing = 2 + (4 * chunk_count if frag_count == 1 else 0)
        end = len(data) - len(msgpack.packb(items[-1]))
        start = end - len(items[-2]) + framing
        if start >= end:
            return data
        return data[:start] + self.model.corrupt(data[start:end], self.rng) + data[end:]
