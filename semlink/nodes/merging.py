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

    merger = Merger(owners={0: 0, 1: 1, 2: 0, 3: 1}, shares=2)
    ready = merger.push(Arrival("packet", 1, 100, sender=1), item)   # held: unit 0 is due first
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from semlink.wire import End, PointEnd, PointStart, WireError, decode_message, relay_view

Item = TypeVar("Item")
Role = Literal["start", "packet", "point-end", "end", "other"]
HELD_BYTES = 4 << 30
"""The most bytes held for units not yet due (a share that runs far ahead of another)."""


@dataclass(frozen=True)
class Arrival:
    """What a message is to the merger: its role, its unit and who sent it.

    :param role: ``start``, ``packet`` or ``point-end`` of unit ``unit``; ``end`` (a share's
        last message); ``other`` (anything else: passed on at once, the stage counts it).
    :param unit: the unit's number on the wire (None for ``end`` and ``other``).
    :param size: the bytes the message takes while held.
    :param sender: the share that sealed it.
    """

    role: Role
    unit: int | None = None
    size: int = 0
    sender: int = 0


def arrival_of(parts: list[bytes], run_id: int, sender: int = 0, size: int | None = None) -> Arrival:
    """The :class:`Arrival` of one message's parts (packets of one unit, or one control message)
    from share ``sender``; ``other`` for anything that is not this run's or cannot be read.
    ``size``: the bytes it holds (default: its parts')."""
    size = sum(len(part) for part in parts) if size is None else size
    if not parts:
        return Arrival("other", None, size, sender)
    try:
        view = relay_view(parts[0], verify_crc=False)
        if view is not None:
            return (
                Arrival("packet", view.point, size, sender)
                if view.run_id == run_id
                else Arrival("other", None, size, sender)
            )
        control = decode_message(parts[0]).message
    except WireError:
        return Arrival("other", None, size, sender)
    if len(parts) != 1 or getattr(control, "run_id", None) != run_id:
        return Arrival("other", None, size, sender)
    if isinstance(control, PointStart):
        return Arrival("start", control.point, size, sender)
    if isinstance(control, PointEnd):
        return Arrival("point-end", control.point, size, sender)
    if isinstance(control, End):
        return Arrival("end", None, size, sender)
    return Arrival("other", None, size, sender)


@dataclass
class _Held(Generic[Item]):
    """A unit's messages held until its turn, and whether its ``point-end`` is among them."""

    items: list[Item] = field(default_factory=list)
    ended: bool = False
    size: int = 0


class Merger(Generic[Item]):
    """Puts the messages of several transmitters back in the run's unit order (see the module
    docstring).

    Each unit belongs to one share (``owners``). The unit due goes on as it arrives; later units
    wait. The due unit is over at its ``point-end``, or once its share has sent a later unit or
    its ``end`` (a unit that share never sends, e.g. one it was not asked for, holds nothing up).
    A share's ``end`` counts once; the run's goes on after every share's, behind everything held.

    :param owners: unit number -> the share that sends it, for every unit the run may send.
    :param shares: how many shares send.
    :param held_bytes: the most bytes held at once.
    """

    def __init__(self, owners: dict[int, int], shares: int, held_bytes: int = HELD_BYTES) -> None:
        self.order = sorted(owners)
        self.owners = [owners[unit] for unit in self.order]
        self.places = {unit: place for place, unit in enumerate(self.order)}
        self.due = 0  # place in ``order`` of the unit that goes on now
        self.due_ended = False
        self.shares, self.limit = shares, held_bytes
        self.ended: set[int] = set()
        self.progress: dict[int, int] = {}  # share -> the latest place it has sent
        self.held: dict[int, _Held[Item]] = {}
        self.held_size = 0

    @property
    def finished(self) -> bool:
        """Whether every share's ``end`` arrived (and so the run's went on)."""
        return len(self.ended) >= self.shares

    def refusal(self, arrival: Arrival) -> str | None:
        """Why a message must be dropped before it is ordered (a drop reason), or None: a sender
        beyond the shares (``bad-share``), one whose ``end`` came already (``after-end``: a share
        started twice), a unit of another share (``wrong-share``: the nodes disagree on
        ``per_process``)."""
        if not 0 <= arrival.sender < self.shares:
            return "bad-share"
        if arrival.sender in self.ended:
            return "after-end"
        place = None if arrival.unit is None else self.places.get(arrival.unit)
        if place is not None and self.owners[place] != arrival.sender:
            return "wrong-share"
        return None

    def push(self, arrival: Arrival, item: Item) -> list[Item]:
        """One message in (its :meth:`refusal` None); the messages that go on now, in order.

        :raises ValueError: when more than ``held_bytes`` would be held (one line naming the share due).
        """
        if arrival.role == "end":
            self.ended.add(arrival.sender)
            self.progress[arrival.sender] = len(self.order)
            out = self._drain()
            if self.finished:
                out += self._flush()
                out.append(item)
            return out
        place = None if arrival.unit is None else self.places.get(arrival.unit)
        if arrival.role == "other" or place is None or place < self.due:
            return [item]  # not a unit to order (a stranger's, or one already past): the stage judges it
        self.progress[arrival.sender] = max(self.progress.get(arrival.sender, -1), place)
        if place > self.due:
            self._hold(place, arrival, item)
            return self._drain()
        self.due_ended = self.due_ended or arrival.role == "point-end"
        return [item, *self._drain()]

    def _hold(self, place: int, arrival: Arrival, item: Item) -> None:
        self.held_size += arrival.size
        if self.held_size > self.limit:
            due = self.owners[self.due]
            raise ValueError(
                f"vehicles spread over processes: {self.held_size >> 20} MiB of later units held while unit "
                f"{self.order[self.due]} of share {due} is due; is the transmitter of share {due} running "
                "(--share, compose's vehicle replicas)?"
            )
        held = self.held.setdefault(place, _Held())
        held.items.append(item)
        held.size += arrival.size
        held.ended = held.ended or arrival.role == "point-end"

    def _drain(self) -> list[Item]:
        """Move past every due unit that is over, releasing what the next ones had waiting."""
        out: list[Item] = []
        while self.due < len(self.order):
            over = self.due_ended or self.progress.get(self.owners[self.due], -1) > self.due
            if not over:
                break
            self.due += 1
            self.due_ended = False
            held = self.held.pop(self.due, None)
            if held is not None:
                out += held.items
                self.held_size -= held.size
                self.due_ended = held.ended
        return out

    def _flush(self) -> list[Item]:
        """Everything still held, in order (after every share's ``end``)."""
        out = [message for place in sorted(self.held) for message in self.held[place].items]
        self.held, self.held_size, self.due = {}, 0, len(self.order)
        return out
