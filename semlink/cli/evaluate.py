"""``semlink eval``: codec-only evaluation."""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from semlink.cli.common import OneLineParser, UserError, add_data_options, positive_int, written_line

EVAL_METRICS = ("map_consistency",)
"""Metrics ``semlink eval`` reports besides the defaults: whether the reconstruction shows the sent map."""


def add_eval(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink eval``."""
    ev = sub.add_parser(
        "eval", help="codec-only evaluation: mIoU, map consistency, PSNR, MS-SSIM against bpp (no channel)"
    )
    add_data_options(ev)
    ev.add_argument("--frames", type=positive_int, default=50, help="frames to score (default 50)")
    ev.add_argument(
        "--codec",
        action="append",
        required=True,
        metavar="SPEC",
        help="NAME[:KEY=V1,V2,...][:KEY=VALUE...], e.g. jpeg:target_bpp=0.1,0.2 or sqgan:tokens=0.1:map_scale=2; "
        "a key with several values is swept; repeatable; a codec without a knob takes --target-bpp/--quality",
    )
    ev.add_argument("--target-bpp", type=float, action="append", default=[], help="target bpp value (repeatable)")
    ev.add_argument("--quality", type=float, action="append", default=[], help="quality knob value (repeatable)")
    ev.add_argument(
        "--segmenter",
        default=None,
        help="checkpoint .pt, TorchScript .ts or module:function (default: the shipped one)",
    )
    ev.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    ev.add_argument("--out", type=Path, required=True, help="output folder for results.csv")
    ev.add_argument(
        "--sheet",
        type=positive_int,
        default=None,
        metavar="N",
        help="also save OUT/sheet.png: N frames (evenly spaced), their map and each codec setting's reconstruction",
    )
    ev.set_defaults(handler=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Codec-only evaluation of the given codecs over their knob values."""
    from semlink.catalog import DEFAULT_METRICS
    from semlink.executors.evaluate import evaluate, evaluation_scenario

    defaults = [(k, v) for k, values in (("target_bpp", args.target_bpp), ("quality", args.quality)) for v in values]
    if len({k for k, _ in defaults}) > 1:
        raise UserError("give one of --target-bpp, --quality (or put the knob in each --codec spec)")
    codecs = [parse_codec_spec(spec, defaults) for spec in args.codec]
    data: dict[str, object] = {"source": args.data, "split": args.split, "frames": args.frames, "root": args.root}
    if args.size is not None:
        data["size"] = list(args.size)
    metrics = [*DEFAULT_METRICS, *EVAL_METRICS]
    scenario = evaluation_scenario(data, codecs, args.segmenter, args.device, metrics, seed=args.seed)
    started_at = time.time()
    evaluate(scenario, args.out)
    with (args.out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    Console(width=None if sys.stdout.isatty() else TABLE_WIDTH).print(results_table(rows))
    if args.sheet:
        from semlink.report.sheet import codec_sheet

        codec_sheet(scenario, args.sheet, args.out / "sheet.png")
    print(written_line(args.out, started_at))
    return 0


def parse_codec_spec(spec: str, defaults: list[tuple[str, float]]) -> dict[str, object]:
    """``NAME[:KEY=V1,V2][:KEY=VALUE]`` -> a scenario codec entry (a key with several values is an axis).

    Values are parsed as YAML (numbers, true/false, text); ``defaults`` (from ``--target-bpp`` or
    ``--quality``) apply when the spec sets neither knob.
    """
    name, *settings = spec.split(":")
    entry: dict[str, object] = {"name": name}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key or not value:
            raise UserError(f"--codec {spec!r}: {setting!r} must look like key=value")
        try:
            values = [yaml.safe_load(v) for v in value.split(",")]
        except yaml.YAMLError:
            raise UserError(f"--codec {spec!r}: {value!r} is not a value or a comma-separated list") from None
        entry[key] = values if len(values) > 1 else values[0]
    if defaults and not any(k in entry for k in ("target_bpp", "quality")):
        knob = defaults[0][0]
        entry[knob] = [v for _, v in defaults]
    return entry


TABLE_WIDTH = 100
"""Columns of the summary table where standard output is not a terminal (a log file)."""
SHOWN = {"bpp": "bpp", "miou": "mIoU", "map_consistency": "consistency", "psnr": "PSNR", "ms_ssim": "MS-SSIM"}
"""The summary's metric columns and their headings (per-class IoU and intervals: report.md)."""


def results_table(rows: Sequence[Mapping[str, str]]) -> Table:
    """A rich table of the points: their varying settings, bpp and the image and task metrics
    (within 100 columns; every column, the intervals and the IoU per class are in ``report.md``)."""
    if not rows:
        return Table(title="codec-only evaluation (no points)")
    header = list(rows[0])
    settings = [c for c in header[1 : header.index("channel")]]
    shown = [c for c in SHOWN if c in header]
    table = Table(title="codec-only evaluation (all columns, intervals and IoU per class: report.md)")
    for column in ["codec", *settings, "frames", *(SHOWN[c] for c in shown)]:
        table.add_column(column, justify="right")
    for row in rows:
        cells = [row["codec"], *(row[c] for c in settings), row["frames"]]
        table.add_row(*cells, *(short(row.get(c, "")) for c in shown))
    return table


def short(text: str, digits: int = 4) -> str:
    """A number cell rounded for the table (``-`` when empty)."""
    try:
        value = float(text)
    except ValueError:
        return text or "-"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"
