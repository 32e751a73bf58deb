"""Codec-only evaluation: frames -> codec -> reconstruction -> segmenter -> scores (no channel)."""

from __future__ import annotations

import csv
import math
import sys
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
from semlink.sim.report import COLOURS, REFERENCE_CODEC, codec_styles, draw_bpp_panel, new_figure
from semlink.vision.segmenter import Segmenter

BASE_COLUMNS = ("codec", "knob", "rate", "options", "frames", "bpp", "miou", "pixel_accuracy", "psnr", "ms_ssim")


@dataclass(frozen=True)
class EvalPoint:
    """A codec at one value of one knob, with its options.

    :param codec: registry name. :param knob: ``rate``, ``target_bpp`` or ``quality``.
    :param value: the knob's value. :param options: further keyword arguments of the codec.
    """

    codec: str
    knob: str = "rate"
    value: float = 1.0
    options: tuple[tuple[str, object], ...] = ()

    def build(self, label_set: LabelSet, device: str) -> Codec:
        """The codec (with the label set and device if it models the classes)."""
        factory = CODECS.get(self.codec)
        kwargs: dict[str, object] = {**dict(self.options), self.knob: self.value}
        if getattr(factory, "uses_label_set", False):
            kwargs.setdefault("label_set", label_set.name)
            kwargs.setdefault("device", device)
        return factory(**kwargs)

    @property
    def options_text(self) -> str:
        """``key=value`` pairs joined by spaces (empty if none)."""
        return " ".join(f"{k}={v}" for k, v in self.options)


@dataclass(frozen=True)
class PointResult:
    """Scores of one (codec, rate) point over all frames.

    :param codec: codec name. :param knob: the knob's name. :param rate: its value.
    :param options: the codec's options as text. :param frames: frames scored.
    :param bpp: mean payload bits per pixel. :param miou: dataset-wide mIoU.
    :param pixel_accuracy: dataset-wide pixel accuracy.
    :param psnr: mean PSNR in dB (inf when every frame is exact).
    :param ms_ssim: mean MS-SSIM. :param class_iou: IoU per class (NaN: class absent).
    """

    codec: str
    knob: str
    rate: float
    options: str
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
            "knob": self.knob,
            "rate": self.rate,
            "options": self.options,
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
    point: EvalPoint,
    frames: Sequence[Frame],
    label_set: LabelSet,
    segmenter: Segmenter,
    progress: Progress | None = None,
) -> PointResult:
    """Code, decode, segment and score ``frames`` (the codec gets the segmenter's map if it sends one)."""
    evaluator = Evaluator(segmenter, label_set)
    bits, pixels = 0, 0
    label = f"{point.codec} {point.knob} {point.value:g} {point.options_text}".strip()
    task = progress.add_task(label, total=len(frames)) if progress else None
    for frame in frames:
        ssm = segmenter.segment(frame.image[None])[0] if codec.uses_ssm else None
        bitstream = codec.compress(frame.image, ssm)
        bits += bitstream.bits
        pixels += frame.image.shape[0] * frame.image.shape[1]
        evaluator.add(frame, codec.decompress(bitstream.received()))
        if progress is not None and task is not None:
            progress.advance(task)
    s = evaluator.scores()
    return PointResult(
        point.codec,
        point.knob,
        point.value,
        point.options_text,
        s.frames,
        bits / max(pixels, 1),
        s.miou,
        s.pixel_accuracy,
        s.psnr,
        s.ms_ssim,
        s.class_iou,
    )


def evaluate(
    source: FrameSource,
    frames_count: int,
    points: Sequence[EvalPoint],
    segmenter: Segmenter,
    out: Path,
    console: Console | None = None,
    device: str = "auto",
) -> list[PointResult]:
    """Evaluate each point; write ``out/results.csv`` row by row, plot ``miou_vs_bpp.png``, print a table."""
    console = console or Console(width=None if sys.stdout.isatty() else 240)  # logs get the whole table
    codecs = [p.build(source.label_set, device) for p in points]  # bad names and values fail before any work
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
        for point, codec in zip(points, codecs, strict=True):
            result = evaluate_point(codec, point, frames, source.label_set, segmenter, bar)
            writer.writerow(result.row(names))
            handle.flush()
            results.append(result)
    console.print(results_table(results, names))
    plot_eval(results, out / "miou_vs_bpp.png", f"{source.label_set.name}, {len(frames)} frames")
    return results


def plot_eval(results: Sequence[PointResult], path: Path, title: str) -> Path:
    """mIoU against bpp, a line per codec (and option set), the clean image as a dashed level."""
    rows = [
        {
            "codec": f"{r.codec} {r.options}".strip(),
            "rate": str(r.rate),
            "bpp": str(r.bpp),
            "miou": str(r.miou),
        }
        for r in results
    ]
    figure, (axes,) = new_figure(1, width=7.0, height=4.8)
    reference = next((r.miou for r in results if r.codec == REFERENCE_CODEC), None)
    draw_bpp_panel(axes, rows, codec_styles(rows, COLOURS), reference)
    axes.set_title(f"codec-only evaluation ({title})")
    figure.savefig(path, dpi=110)
    return path


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
            f"{r.codec} {r.options}".strip(),
            f"{r.knob} {r.rate:g}",
            str(r.frames),
            f"{r.bpp:.4f}",
            f"{r.miou:.4f}",
            f"{r.psnr:.2f}",
            f"{r.ms_ssim:.4f}",
            *ious,
        )
    return table
