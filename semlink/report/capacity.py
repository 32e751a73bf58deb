"""The capacity of a cell: for each codec and scheduler, the most vehicles whose 5th-percentile
vehicle keeps 0.9 of its clean mIoU.

Two runs over the same vehicles (the same scenario, so vehicle ``k`` sends the same frames at
every count): the cell run (``vehicles.count`` an axis, ``channel.model: cell``) and a clean run
(every vehicle on an ideal link of its own at the largest count, the codecs plus ``identity``
for the clean image). For a count ``V`` the reference is the 5th percentile of the clean mIoU of
vehicles ``0 .. V-1`` (the codec's, and the clean image's from ``identity``); a count holds when the
cell's ``miou_p5`` reaches 0.9 of it, and *holds with its interval* when ``miou_p5_lo`` does too.
The capacity is the largest count that holds, every smaller one holding as well.

Example::

    rows = capacity_rows(Path("results/v2x-cell"), Path("results/v2x-cell-clean"))
    print(capacity_markdown(rows))
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semlink.report.labels import describe
from semlink.results.rows import Row, number

SHARE = 0.9
"""The share of the clean mIoU a vehicle must keep."""
SETTINGS = ("codec", "target_bpp", "quality", "tokens", "map_scale")
"""Columns that tell one codec setting from another in both runs."""


@dataclass(frozen=True)
class Capacity:
    """One codec setting under one scheduler (or other cell setting).

    :param label: the codec setting in words. :param cell: the cell's other settings in words.
    :param of_codec: the most vehicles keeping 0.9 of the codec's clean mIoU (0: not even one).
    :param of_codec_sure: the same where the interval's lower end keeps it too.
    :param of_image: the most vehicles keeping 0.9 of the clean image's mIoU.
    :param counts: the counts the run tried.
    """

    label: str
    cell: str
    of_codec: int
    of_codec_sure: int
    of_image: int
    counts: tuple[int, ...]


def read_csv(path: Path) -> list[Row]:
    """A CSV file's rows, or a one-line error naming it."""
    if not path.is_file():
        raise ValueError(f"{path} is missing; give the folder of a finished run with vehicles")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def clean_scores(clean: list[Row]) -> dict[str, list[float]]:
    """Codec setting -> each vehicle's clean mIoU, in vehicle order."""
    out: dict[str, dict[int, float]] = {}
    for row in clean:
        value = number(row.get("miou"))
        if value is not None:
            out.setdefault(setting_of(row), {})[int(row["vehicle"])] = value
    return {key: [scores[k] for k in sorted(scores)] for key, scores in out.items()}


def setting_of(row: Row) -> str:
    """A row's codec setting as a key shared by both runs."""
    return describe(row, [c for c in SETTINGS if row.get(c)])


def largest(holding: list[tuple[int, bool]]) -> int:
    """The largest count of an unbroken run of holding counts from the smallest (0: none)."""
    best = 0
    for count, holds in sorted(holding):
        if not holds:
            break
        best = count
    return best


def capacity_rows(cell_folder: Path, clean_folder: Path) -> list[Capacity]:
    """The capacity of every codec setting and cell setting of ``cell_folder`` (see the module docstring).

    :raises ValueError: in one line, for a missing file or a codec the clean run lacks.
    """
    cell = read_csv(cell_folder / "results.csv")
    clean = clean_scores(read_csv(clean_folder / "vehicles.csv"))
    image = next((scores for key, scores in clean.items() if "identity" in key), None)
    if image is None:
        raise ValueError(f"{clean_folder} has no identity rows; add {{name: identity}} to the clean run's codecs")
    groups: dict[tuple[str, str], list[Row]] = {}
    others = [c for c in cell[0] if c in ("scheduler", "prbs", "bandwidth_mhz") and len({r[c] for r in cell}) > 1]
    for row in cell:
        groups.setdefault((setting_of(row), describe(row, others)), []).append(row)
    out = []
    for (label, setting), rows in groups.items():
        if label not in clean:
            raise ValueError(f"{clean_folder} has no rows of {label}; run the clean run with the same codecs")
        codec_p5, image_p5 = [], []
        for row in rows:
            count = int(number(row["vehicles.count"]) or 0)
            p5, low = number(row.get("miou_p5")) or 0.0, number(row.get("miou_p5_lo")) or 0.0
            reference = float(np.percentile(clean[label][:count], 5))
            codec_p5.append((count, p5 >= SHARE * reference, low >= SHARE * reference))
            image_p5.append((count, p5 >= SHARE * float(np.percentile(image[:count], 5))))
        counts = tuple(sorted(c for c, _, _ in codec_p5))
        out.append(
            Capacity(
                label,
                setting,
                largest([(c, h) for c, h, _ in codec_p5]),
                largest([(c, s) for c, _, s in codec_p5]),
                largest(image_p5),
                counts,
            )
        )
    return out


def capacity_markdown(rows: list[Capacity]) -> str:
    """The capacity table in Markdown."""
    lines = [
        "| codec | cell | vehicles keeping 0.9 × the codec's clean mIoU (with the interval's lower end) "
        "| vehicles keeping 0.9 × the clean image's mIoU |",
        "|---|---|---|---|",
    ]
    for row in rows:
        top = max(row.counts)
        said = [f"{n}{'+' if n == top else ''}" for n in (row.of_codec, row.of_codec_sure, row.of_image)]
        lines.append(f"| {row.label} | {row.cell or '-'} | {said[0]} ({said[1]}) | {said[2]} |")
    counts = ", ".join(str(c) for c in rows[0].counts) if rows else ""
    lines.append("")
    lines.append(f"Counts tried: {counts}; N+ means every count tried held, so the capacity is N or more.")
    return "\n".join(lines)
