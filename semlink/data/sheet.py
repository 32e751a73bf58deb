"""Contact sheets: frames beside their colour-coded labels."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from semlink.data.frame import Frame
from semlink.data.imageio import write_png
from semlink.data.labelset import LabelSet


def contact_sheet(frames: Iterable[Frame], label_set: LabelSet, out: Path, columns: int = 2) -> int:
    """Save a grid of ``image | labels`` pairs to ``out``; returns how many frames it holds."""
    tiles = [np.concatenate([f.image, label_set.colorize(f.labels)], axis=1) for f in frames]
    if not tiles:
        raise ValueError("no frames to put on the sheet")
    height, width = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    sheet = np.zeros((rows * height, columns * width, 3), dtype=np.uint8)
    for number, tile in enumerate(tiles):
        row, column = divmod(number, columns)
        sheet[row * height : row * height + tile.shape[0], column * width : column * width + tile.shape[1]] = tile[
            :height, :width
        ]
    write_png(out, sheet)
    return len(tiles)
