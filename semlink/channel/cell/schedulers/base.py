"""What every scheduler of the shared medium sees and returns.

Each slot the medium hands the scheduler a :class:`CellView` of the vehicles that have data
queued, and the scheduler returns an :class:`Allocation`: resource blocks per vehicle (whole
blocks, at most the carrier's in all) and, for schedulers without a base station (``mode2``),
which grants collided. Schedulers keep their own state across slots (a round-robin pointer,
average throughputs, sidelink reservations); :meth:`Scheduler.reset` clears it at a point's start.

Example::

    scheduler = SCHEDULERS.get("round_robin")()
    grant = scheduler.allocate(view)   # grant.blocks: [U] resource blocks per vehicle
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from semlink.registry import Registry


@dataclass(frozen=True)
class CellView:
    """The vehicles of one slot, as a scheduler sees them (arrays over all ``U`` vehicles).

    :param slot: the slot's index since the point started.
    :param blocks: the carrier's resource blocks.
    :param queued_bits: [U] bits waiting (0: nothing to send; such a vehicle gets nothing).
    :param bits_per_block: [U] information bits one resource block carries for the vehicle this
        slot, at the MCS its link adaptation chose from its channel (> 0).
    :param deadline_us: [U] deadline of the vehicle's head-of-line packet (inf: none).
    :param priority: [U] stream priority of the head-of-line packet (lower is more important: a
        semantic codec's map stream before its tokens or its low-resolution image).
    :param rng: the medium's stream for schedulers that draw (``mode2``'s selections).
    """

    slot: int
    blocks: int
    queued_bits: np.ndarray
    bits_per_block: np.ndarray
    deadline_us: np.ndarray
    priority: np.ndarray
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def vehicles(self) -> int:
        """``U``: how many vehicles the cell has (with data or not)."""
        return int(self.queued_bits.size)

    def needs(self) -> np.ndarray:
        """[U] resource blocks that would carry all of each vehicle's queued bits this slot."""
        return np.ceil(self.queued_bits / self.bits_per_block).astype(np.int64)


@dataclass(frozen=True)
class Allocation:
    """A slot's grants.

    :param blocks: [U] int resource blocks granted per vehicle.
    :param collided: [U] bool: the grant overlapped another vehicle's (its transmission fails).
    :param occupied: resource blocks of the carrier in use this slot (overlapping grants count once).
    """

    blocks: np.ndarray
    collided: np.ndarray
    occupied: int

    @classmethod
    def clean(cls, blocks: np.ndarray) -> Allocation:
        """Grants without collisions (any scheduler with a base station)."""
        return cls(blocks.astype(np.int64), np.zeros(blocks.size, dtype=bool), int(blocks.sum()))


class Scheduler(ABC):
    """Base of the schedulers: subclasses set ``name`` and implement :meth:`allocate`."""

    name: ClassVar[str] = ""

    def reset(self, vehicles: int) -> None:  # noqa: B027  (stateless schedulers keep nothing)
        """Forget the state of the last point; ``vehicles`` vehicles from now on."""

    @abstractmethod
    def allocate(self, view: CellView) -> Allocation:
        """The slot's grants for ``view`` (at most ``view.blocks`` in all, none to an empty queue)."""


def fill_in_order(order: np.ndarray, needs: np.ndarray, blocks: int) -> np.ndarray:
    """[U] grants giving each vehicle of ``order`` in turn all it needs until the blocks run out.

    :param order: vehicle indices, the first served first. :param needs: [U] blocks each needs.
    """
    grants = np.zeros(needs.size, dtype=np.int64)
    left = blocks
    for vehicle in order.tolist():
        if left <= 0:
            break
        grants[vehicle] = min(int(needs[vehicle]), left)
        left -= int(grants[vehicle])
    return grants


def check_scheduler_class(name: str, factory: Callable[..., object]) -> None:
    """What registration demands of a scheduler: a concrete :class:`Scheduler` subclass.

    :raises TypeError: naming the scheduler and what it lacks.
    """
    if not (isinstance(factory, type) and issubclass(factory, Scheduler)):
        raise TypeError(f"scheduler {name!r}: {factory!r} is not a subclass of semlink.channel.cell.Scheduler")
    if inspect.isabstract(factory):
        raise TypeError(f"scheduler {name!r}: {factory.__name__} does not implement allocate")


SCHEDULERS: Registry[Scheduler] = Registry("scheduler", check=check_scheduler_class, group="semlink.schedulers")
