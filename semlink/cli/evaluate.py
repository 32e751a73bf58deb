"""``semlink eval``: codec-only evaluation."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from semlink.cli.common import OneLineParser, UserError, add_data_options, positive_int

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
    evaluate(scenario, args.out)
    with (args.out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    Console(width=None if sys.stdout.isatty() else 240).print(results_table(rows))  # logs get the whole table
    print(f"results: {args.out / 'results.csv'}; report: {args.out / 'report.md'}")
    if args.sheet:
        from semlink.report.sheet import codec_sheet

        print(f"contact sheet: {codec_sheet(scenario, args.sheet, args.out / 'sheet.png')}")
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


def results_table(rows: Sequence[Mapping[str, str]]) -> Table:
    """A rich table of the points: their varying settings, bpp, the image and task metrics, IoU per class."""
    if not rows:
        return Table(title="codec-only evaluation (no points)")
    header = list(rows[0])
    first_metric = header.index("frames")
    settings = [c for c in header[1 : header.index("channel")]]
    classes = [c for c in header[first_metric:] if c.startswith("iou_") and not c.endswith(("_lo", "_hi"))]
    shown = [c for c in ("bpp", "miou", "map_consistency", "psnr", "ms_ssim") if c in header]
    table = Table(title="codec-only evaluation")
    for column in ["codec", *settings, "frames", *shown, *(c[4:10] for c in classes)]:
        table.add_column(column, justify="right")
    for row in rows:
        cells = [row["codec"], *(row[c] for c in settings), row["frames"]]
        cells += [short(row.get(c, "")) for c in shown] + [short(row.get(c, ""), 2) for c in classes]
        table.add_row(*cells)
    return table


def short(text: str, digits: int = 4) -> str:
    """A number cell rounded for the table (``-`` when empty)."""
    try:
        value = float(text)
    except ValueError:
        return text or "-"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"
