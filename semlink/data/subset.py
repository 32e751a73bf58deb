"""A source restricted to its first frames."""

from __future__ import annotations

from semlink.data.frame import Frame, FrameSource


class Subset(FrameSource):
    """The first ``count`` frames of ``source``.

    :param source: the full source.
    :param count: how many frames to keep (fewer if the source is shorter).
    """

    def __init__(self, source: FrameSource, count: int) -> None:
        self.source = source
        self.count = min(count, len(source))
        self.label_set = source.label_set

    def __len__(self) -> int:
        return self.count

    def frame(self, index: int) -> Frame:
        """Frame ``index`` of the underlying source."""
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.source.frame(index)
