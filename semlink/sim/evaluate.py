"""Codec-only evaluation: frames -> codec -> reconstruction -> segmenter -> scores (no channel)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from semlink.codecs import CODECS, Codec
from semlink.data.frame import Frame, FrameSource
from semlink.data.labelset import LabelSet
from semlink.receiver.evaluator import Evaluator
from semlink.vision.segmenter import Segmenter

BASE_COLUMNS = ("codec", "rate", "frames", "bpp", "miou", "pixel_accuracy", "psnr", "ms_ssim")


@dataclass(frozen=True)
class PointResult:
    """Scores of one (codec, rate) point over all frames.

    :param codec: codec name. :param rate: its rate knob. :param frames: frames scored.
    :param bpp: mean payload bits per pixel. :param miou: dataset-wide mIoU.
    :param pixel_accuracy: dataset-wide pixel accuracy.
    :param psnr: mean PSNR in dB (inf when every frame is exact).
    :param ms_ssim: mean MS-SSIM. :param class_iou: IoU per class (NaN: class absent).
    """

    codec: str
    rate: float
    frames: int
    bpp: float
    miou: float
    pixel_accuracy: float
    psnr: float
    ms_ssim: float
    class_iou: tuple[float, ...]

    def row(self, class_names: Sequence[str]) -> dict[str, object]:
        """The ``results.csv`` row."""
        row: dict[str, object] = {
            "codec": self.codec,
            "rate": self.rate,
            "frames": self.frames,
            "bpp": f"{self.bpp:.5f}",
            "miou": f"{self.miou:.4f}",
            "pixel_accuracy": f"{self.pixel_accuracy:.4f}",
            "psnr": f"{self.psnr:.3f}",
            "ms_ssim": f"{self.ms_ssim:.4f}",
        }
        for name, iou in zip(class_names, self.class_iou, strict=True):
            row[f"iou_{name}"] = "" if math.isnan(iou) else f"{iou:.4f}"
        return row


def evaluate_point(
    codec: Codec,
    name: str,
    rate: float,
    frames: Sequence[Frame],
    label_set: LabelSet,
    segmenter: Segmenter,
    progress: Progress | None = None,
) -> PointResult:
    """Code, decode, segment and score ``frames``."""
    evaluator = Evaluator(segmenter, label_set)
    bits, pixels = 0, 0
    task = progress.add_task(f"{name} rate {rate:g}", total=len(frames)) if progress else None
    for frame in frames:
        bitstream = codec.compress(frame.image)
        bits += bitstream.bits
        pixels += frame.image.shape[0] * frame.image.shape[1]
        evaluator.add(frame, codec.decompress(bitstream.received()))
        if progress is not None and task is not None:
            progress.advance(task)
    s = evaluator.scores()
    return PointResult(
        name, rate, s.frames, bits / max(pixels, 1), s.miou, s.pixel_accuracy, s.psnr, s.ms_ssim, s.class_iou
    )


def evaluate(
    source: FrameSource,
    frames_count: int,
    points: Sequence[tuple[str, float]],
    segmenter: Segmenter,
    out: Path,
    console: Console | None = None,
) -> list[PointResult]:
    """Evaluate each ``(codec, rate)`` point; write ``out/results.csv`` row by row and print a table."""
    console = console or Console()
    factories = {name: CODECS.get(name) for name, _ in points}  # unknown names fail before any work
    existing = out / "results.csv"
    if existing.exists() and not existing.read_text().startswith(",".join(BASE_COLUMNS)):
        raise ValueError(f"{existing} holds another kind of results (a run's?); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    names = source.label_set.classes
    columns = [*BASE_COLUMNS, *(f"iou_{n}" for n in names)]
    results = []
    frames = list(source.take(frames_count))
    with (out / "results.csv").open("w", newline="") as handle, Progress(console=console, transient=True) as bar:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for codec_name, rate in points:
            result = evaluate_point(
                factories[codec_name](rate=rate), codec_name, rate, frames, source.label_set, segmenter, bar
            )
            writer.writerow(result.row(names))
            handle.flush()
            results.append(result)
    console.print(results_table(results, names))
    return results


def results_table(results: Sequence[PointResult], class_names: Sequence[str]) -> Table:
    """A rich table of the points with their per-class IoU."""
    table = Table(title="codec-only evaluation")
    for column in ("codec", "rate", "frames", "bpp", "mIoU", "PSNR", "MS-SSIM"):
        table.add_column(column, justify="right")
    for name in class_names:
        table.add_column(name[:6], justify="right")
    for r in results:
        ious = ["-" if math.isnan(v) else f"{v:.2f}" for v in r.class_iou]
        table.add_row(
            r.codec,
            f"{r.rate:g}",
            str(r.frames),
            f"{r.bpp:.4f}",
            f"{r.miou:.4f}",
            f"{r.psnr:.2f}",
            f"{r.ms_ssim:.4f}",
            *ious,
        )
    return table
