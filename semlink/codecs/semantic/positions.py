"""Receiver-derived token positions (``positions: derived``): which tokens are sent is decided
from the decoded map alone, which both ends have, so the positions cost no bits.

Each grid block is scored from the map pixels inside it only: the class edges within the block
(object outlines, where the map alone says least about the pixels), in integers, so both ends
rank the blocks identically. Ties (e.g. blocks of one class) are broken by an ordered-dither
pattern that spreads the kept tokens evenly over the grid, then by position. The score is a
heuristic, not learned: on 12 CamVid val frames with the shipped network, 10 % of the tokens
placed by it give a higher PSNR than the network's scorer's (15.8 against 14.8 dB) and a lower
mIoU (0.584 against 0.599); what it surely buys is the bitmap (about 15 % of the token bits).
Because a block's score reads no pixel outside it, a band of the token grid can be placed as
soon as the map rows under it have arrived; a band whose map rows were lost cannot be placed and
its tokens are dropped.
"""

from __future__ import annotations

import numpy as np

from semlink.codecs.semantic.net import GRID

DITHER = np.array(
    [
        [0, 32, 8, 40, 2, 34, 10, 42],
        [48, 16, 56, 24, 50, 18, 58, 26],
        [12, 44, 4, 36, 14, 46, 6, 38],
        [60, 28, 52, 20, 62, 30, 54, 22],
        [3, 35, 11, 43, 1, 33, 9, 41],
        [51, 19, 59, 27, 49, 17, 57, 25],
        [15, 47, 7, 39, 13, 45, 5, 37],
        [63, 31, 55, 23, 61, 29, 53, 21],
    ],
    dtype=np.int64,
)
"""The 8×8 Bayer matrix: the order in which equally scored blocks are taken (evenly spread)."""


def block_scores(labels: np.ndarray) -> np.ndarray:
    """Class edges inside each grid block: ``[H, W]`` map -> ``[ceil(H/16), ceil(W/16)]`` int64.

    The map is edge-padded to whole blocks; an edge is a pair of neighbouring pixels of one
    block (right or below) with different classes.
    """
    h, w = labels.shape
    padded = np.pad(labels, ((0, -h % GRID), (0, -w % GRID)), mode="edge")
    blocks = padded.reshape(padded.shape[0] // GRID, GRID, padded.shape[1] // GRID, GRID)
    across = (blocks[:, :, :, 1:] != blocks[:, :, :, :-1]).sum((1, 3))
    down = (blocks[:, 1:] != blocks[:, :-1]).sum((1, 3))
    return (across + down).astype(np.int64)


def ranking(scores: np.ndarray, first_row: int = 0) -> np.ndarray:
    """Flat positions of ``scores [h, w]`` from the most to the least important: ``[h * w]``.

    Higher score first; ties by the dither pattern (at the grid rows ``first_row`` on: a band
    ranks its blocks as the whole grid does), then by raster position.
    """
    h, w = scores.shape
    rows, cols = np.meshgrid(np.arange(first_row, first_row + h), np.arange(w), indexing="ij")
    dither = DITHER[rows % 8, cols % 8]
    return np.lexsort((np.arange(h * w), dither.ravel(), -scores.ravel()))


def derived_order(labels: np.ndarray) -> np.ndarray:
    """The grid positions ranked from the map ``[H, W]`` as the receiver sees it: ``[h * w]``."""
    return ranking(block_scores(labels))


def band_positions(scores: np.ndarray, count: int, first_row: int) -> np.ndarray:
    """The ``count`` most important positions of the band ``scores [rows, w]`` that starts at grid
    row ``first_row``, flat in the band and ascending (the order its indices are coded in).

    They are the band's share of the grid's top ``k`` (:func:`derived_order`): one total order ranks both.
    """
    return np.sort(ranking(scores, first_row)[:count])
