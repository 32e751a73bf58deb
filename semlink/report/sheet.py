"""Contact sheets of reconstructions: frames of an evaluation as each codec setting shows them.

``semlink eval ... --sheet N`` saves ``OUT/sheet.png``: a row for each of N frames evenly spaced
over the evaluated ones (the first and the last among them); the columns are the original, the
map the transmitter's segmenter made of it, then one per point of the evaluation (codec and
settings, headed with its mean bpp over the shown frames), every chunk delivered. Tiles are
shrunk to at most ``max_tile_width`` pixels wide so a sheet of many codecs stays viewable; the
grid and its captions are drawn with Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from semlink.data.imageio import write_png
from semlink.report.labels import describe
from semlink.scenario.schema import Scenario
from semlink.scenario.sweep import Point, points
from semlink.study.components import Segmenters, point_codec
from semlink.study.frames import Sources

CAPTION_PX = 18
"""Height of the caption band above each column."""


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its caption and a tile per frame (``[H, W, 3]`` uint8)."""

    caption: str
    tiles: list[np.ndarray]


def point_label(point: Point) -> str:
    """``sqgan, map ×2, tokens 0.1``: a point's codec and settings, in the words of the report's legends."""
    settings = {key: str(value) for key, value in sorted(point.codec_args.items()) if key != "label_set"}
    return describe({"codec": point.codec, **settings}, ["codec", *settings])


def sheet_columns(scenario: Scenario, frames: int) -> list[Column]:
    """The original, the sent map and each point's reconstructions of ``frames`` frames evenly spaced
    over the source's."""
    sweep = points(scenario, "(semlink eval)")
    sources, segmenters = Sources(scenario), Segmenters(scenario.device)
    first = sources.of(sweep[0])
    picked = np.unique(np.linspace(0, len(first) - 1, min(frames, len(first))).round().astype(int))
    shown = [first.frame(int(i)) for i in picked]
    segmenter = segmenters.get(first, sweep[0].segmenter)
    maps = list(segmenter.segment(np.stack([f.image for f in shown])))
    columns = [
        Column("original", [f.image for f in shown]),
        Column("sent map", [first.label_set.colorize(m) for m in maps]),
    ]
    for point in sweep:
        codec = point_codec(point, first.label_set.name, scenario.device)()
        bitstreams = codec.compress_batch([f.image for f in shown], [m if codec.uses_ssm else None for m in maps])
        tiles = [codec.decompress(bitstream.received()) for bitstream in bitstreams]
        bpp = float(np.mean([b.bpp for b in bitstreams]))
        columns.append(Column(f"{point_label(point)}: {bpp:.3f} bpp", tiles))
    return columns


def compose(columns: list[Column], max_tile_width: int = 320) -> np.ndarray:
    """The sheet as ``[H, W, 3]`` uint8: captions on top, a row of tiles per frame."""
    height, width = columns[0].tiles[0].shape[:2]
    scale = min(1.0, max_tile_width / width)
    tile_w, tile_h = round(width * scale), round(height * scale)
    sheet = Image.new("RGB", (tile_w * len(columns), CAPTION_PX + tile_h * len(columns[0].tiles)), "white")
    draw = ImageDraw.Draw(sheet)
    for number, column in enumerate(columns):
        draw.text((number * tile_w + 4, 3), fitted(draw, column.caption, tile_w - 8), fill="black")
        for row, tile in enumerate(column.tiles):
            image = Image.fromarray(np.ascontiguousarray(tile)).resize((tile_w, tile_h), Image.Resampling.BOX)
            sheet.paste(image, (number * tile_w, CAPTION_PX + row * tile_h))
    return np.asarray(sheet)


def fitted(draw: ImageDraw.ImageDraw, text: str, width: int) -> str:
    """``text``, cut with an ellipsis to fit ``width`` pixels."""
    if draw.textlength(text) <= width:
        return text
    while text and draw.textlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def codec_sheet(scenario: Scenario, frames: int, out: Path, max_tile_width: int = 320) -> Path:
    """Save the contact sheet of ``frames`` frames (see :func:`sheet_columns`) to ``out``; returns ``out``.

    :raises ValueError: for ``frames`` < 1.
    """
    if frames < 1:
        raise ValueError(f"a sheet needs at least one frame, not {frames}")
    write_png(out, compose(sheet_columns(scenario, frames), max_tile_width))
    return out
