"""Schedulers of the shared medium, one module each, registered in :data:`SCHEDULERS` by name:
``round_robin``, ``proportional_fair``, ``deadline``, ``semantic`` and ``mode2`` (sidelink).

A scheduler from outside the package is named by import path (``package.module:Class``) or an
installed entry point of the group ``semlink.schedulers``.
"""

from semlink.channel.cell.schedulers import deadline, mode2, proportional_fair, round_robin, semantic
from semlink.channel.cell.schedulers.base import SCHEDULERS, Allocation, CellView, Scheduler

__all__ = [
    "SCHEDULERS",
    "Allocation",
    "CellView",
    "Scheduler",
    "deadline",
    "mode2",
    "proportional_fair",
    "round_robin",
    "semantic",
]
