"""The frame type and the base class of frame sources."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from semlink.data.labelset import LabelSet


@dataclass(frozen=True)
class Frame:
    """One labelled camera frame.

    :param index: position of the frame in its source's split.
    :param image: ``[H, W, 3]`` uint8 RGB.
    :param labels: ``[H, W]`` uint8 class indices of the source's label set, 255 = ignore.
    :param time_s: capture time in seconds from the start of the sequence.
    """

    index: int
    image: np.ndarray
    labels: np.ndarray
    time_s: float = 0.0


class DataError(ValueError):
    """A frame source cannot be read (missing folder, bad size, empty split)."""


class FrameSource(ABC):
    """A split of labelled frames, indexable and iterable.

    Subclasses set :attr:`label_set` and implement :meth:`__len__` and :meth:`frame`.
    """

    label_set: LabelSet

    @abstractmethod
    def __len__(self) -> int:
        """Number of frames in the split."""

    @abstractmethod
    def frame(self, index: int) -> Frame:
        """Load frame ``index`` (``0 <= index < len(self)``)."""

    def __iter__(self) -> Iterator[Frame]:
        for index in range(len(self)):
            yield self.frame(index)

    def take(self, count: int | None) -> Iterator[Frame]:
        """The first ``count`` frames (all of them if ``count`` is None)."""
        stop = len(self) if count is None else min(count, len(self))
        for index in range(stop):
            yield self.frame(index)


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``"HxW"`` (e.g. ``256x512``) into ``(H, W)``.

    :raises ValueError: with a message naming the expected form.
    """
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"size {text!r} is not of the form HxW, e.g. 256x512")
    height, width = (int(p) for p in parts)
    if height <= 0 or width <= 0:
        raise ValueError(f"size {text!r} must be positive")
    return height, width
