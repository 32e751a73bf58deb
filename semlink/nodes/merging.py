"""The channel's inbound side when vehicles are spread over several transmitter processes
(``vehicles.per_process``): their messages put back in the one order a single transmitter sends.

Each transmitter process (a **share**) sends its vehicles' units in the run's order, interleaved
with the other shares' as the socket fair-queues them. The channel stage, the cell and the
receiver take units one after another, as one transmitter sends them (ascending unit numbers:
:attr:`semlink.study.trials.Trial.index`). :class:`Merger` passes the messages of the unit due
next straight on and holds every other unit's until its turn, so the stages see exactly the
single transmitter's sequence, and the rows are the same however the vehicles are spread. The
run's ``end`` goes on once every share has sent its own, after everything held.

Written here: the order is this project's unit numbering; no queueing library knows it.

Example::

    merger = Merger(expected=[0, 1, 2, 3], shares=2)
    ready = merger.push(Arrival("packet", 1, 0), item)   # held: unit 0 is due first
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from semlink.wire import End, PointEnd, PointStart, WireError, decode_message, relay_view

Item = TypeVar("Item")
Role = Literal["start", "packet", "point-end", "end", "other"]
HELD_BYTES = 4 << 30
"""The most bytes held for units not yet due (a share that runs far ahead of another)."""


@dataclass(frozen=True)
class Arrival:
    """What a message is to the merger: its role and its unit.

    :param role: ``start``, ``packet`` or ``point-end`` of unit ``unit``; ``end`` (a share's
        last message); ``other`` (anything else: passed on at once, the stage counts it).
    :param unit: the unit's number on the wire (None for ``end`` and ``other``).
    :param size: the message's bytes (counted while held).
    """

    role: Role
    unit: int | None = None
    size: int = 0


def arrival_of(parts: list[bytes], run_id: int) -> Arrival:
    """The :class:`Arrival` of one message's parts (packets of one unit, or one control message);
    ``other`` for anything that is not this run's or cannot be read."""
    size = sum(len(part) for part in parts)
    if not parts:
        return Arrival("other", None, size)
    try:
        view = relay_view(parts[0], verify_crc=False)
        if view is not None:
            return Arrival("packet", view.point, size) if view.run_id == run_id else Arrival("other", None, size)
        control = decode_message(parts[0]).message
    except WireError:
        return Arrival("other", None, size)
    if len(parts) != 1 or getattr(control, "run_id", None) != run_id:
        return Arrival("other", None, size)
    if isinstance(control, PointStart):
        return Arrival("start", control.point, size)
    if isinstance(control, PointEnd):
        return Arrival("point-end", control.point, size)
    if isinstance(control, End):
        return Arrival("end", None, size)
    return Arrival("other", None, size)


@dataclass
class _Held(Generic[Item]):
    """A unit's messages held until its turn, and whether its ``point-end`` is among them."""

    items: list[Item] = field(default_factory=list)
    ended: bool = False
    size: int = 0


class Merger(Generic[Item]):
    """Puts the messages of ``shares`` transmitters back in the run's unit order (see the module
    docstring).

    :param expected: the units the transmitters send, in any order (sorted here).
    :param shares: how many transmitters send; the run's ``end`` goes on after all of theirs.
    :param held_bytes: the most bytes held at once.
    """

    def __init__(self, expected: Iterable[int], shares: int, held_bytes: int = HELD_BYTES) -> None:
        self.order = sorted(set(expected))
        self.due = 0  # position in ``order`` of the unit that goes on now
        self.shares, self.ends, self.limit = shares, 0, held_bytes
        self.held: dict[int, _Held[Item]] = {}
        self.held_size = 0
        self._places = {unit: position for position, unit in enumerate(self.order)}

    @property
    def finished(self) -> bool:
        """Whether every share's ``end`` arrived (and so the run's went on)."""
        return self.ends >= self.shares

    def push(self, arrival: Arrival, item: Item) -> list[Item]:
        """One message in; the messages that go on now, in order.

        :raises ValueError: when more than ``held_bytes`` would be held (one line, with the fix).
        """
        if arrival.role == "end":
            return self._end_of_share(item)
        place = None if arrival.unit is None else self._places.get(arrival.unit)
        if arrival.role == "other" or place is None or place < self.due:
            return [item]  # not a unit to order (a stranger's, or one already past): the stage judges it
        if place == self.due:
            out = [item]
            if arrival.role == "point-end":
                out += self._advance()
            return out
        self._hold(place, arrival, item)
        return []

    def _hold(self, place: int, arrival: Arrival, item: Item) -> None:
        self.held_size += arrival.size
        if self.held_size > self.limit:
            raise ValueError(
                f"vehicles spread over processes: {self.held_size >> 20} MiB of later units held while unit "
                f"{self.order[self.due]} is due; raise vehicles.per_process or send fewer frames"
            )
        held = self.held.setdefault(place, _Held())
        held.items.append(item)
        held.size += arrival.size
        held.ended = held.ended or arrival.role == "point-end"

    def _advance(self) -> list[Item]:
        """The due unit ended: move on, releasing what later units had waiting."""
        out: list[Item] = []
        self.due += 1
        while (held := self.held.pop(self.due, None)) is not None:
            out += held.items
            self.held_size -= held.size
            if not held.ended:
                break
            self.due += 1
        return out

    def _end_of_share(self, item: Item) -> list[Item]:
        """A share is done; after the last one, everything still held goes on in order, then ``end``."""
        self.ends += 1
        if not self.finished:
            return []
        out = [message for place in sorted(self.held) for message in self.held[place].items]
        self.held, self.held_size = {}, 0
        self.due = len(self.order)
        return [*out, item]
