"""The registry of frame sources and a helper that opens one by name."""

from __future__ import annotations

from pathlib import Path

from semlink.data.frame import FrameSource
from semlink.registry import Registry

DATASETS: Registry[FrameSource] = Registry("frame source")


def open_source(
    name: str,
    split: str,
    size: tuple[int, int] | None = None,
    root: str | Path | None = None,
    seed: int = 0,
    sequence: int = 1,
    fps: float = 10.0,
) -> FrameSource:
    """Open split ``split`` of the frame source registered as ``name``.

    :param size: ``(H, W)`` frames are resized to; None keeps each source's own default.
    :param root: dataset folder for file-based sources (ignored by ``synthetic``).
    :param seed: scene seed for ``synthetic`` (ignored by file-based sources).
    :param sequence: ``synthetic`` only: frames per drive (1: every frame its own scene).
    :param fps: ``synthetic`` only: frame rate of a drive (how far the camera moves per frame).
    """
    kwargs: dict[str, object] = {"split": split}
    if size is not None:
        kwargs["size"] = size
    if name == "synthetic":
        kwargs["seed"] = seed
        kwargs["sequence"] = sequence
        kwargs["fps"] = fps
    elif root is not None:
        kwargs["root"] = root
    return DATASETS.create(name, **kwargs)
