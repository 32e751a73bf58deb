"""``semlink eval``: codec-only evaluation."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from semlink.cli.common import OneLineParser, UserError, add_data_options, positive_int

if TYPE_CHECKING:
    from semlink.sim.evaluate import EvalPoint


def add_eval(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink eval``."""
    ev = sub.add_parser("eval", help="codec-only evaluation: mIoU, PSNR, MS-SSIM against bpp (no channel)")
    add_data_options(ev)
    ev.add_argument("--frames", type=positive_int, default=50, help="frames to score (default 50)")
    ev.add_argument(
        "--codec",
        action="append",
        required=True,
        metavar="SPEC",
        help="NAME[:KNOB=V1,V2,...][:OPTION=VALUE...], e.g. jpeg:target_bpp=0.1,0.2 or sqgan:rate=0.1:map_scale=2; "
        "repeatable; a codec without a knob takes --rate/--target-bpp/--quality",
    )
    ev.add_argument("--rate", type=float, action="append", default=[], help="rate knob value (repeatable)")
    ev.add_argument("--target-bpp", type=float, action="append", default=[], help="target bpp value (repeatable)")
    ev.add_argument("--quality", type=float, action="append", default=[], help="quality knob value (repeatable)")
    ev.add_argument(
        "--segmenter",
        default=None,
        help="checkpoint .pt, TorchScript .ts or module:function (default: the shipped one)",
    )
    ev.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    ev.add_argument("--out", type=Path, required=True, help="output folder for results.csv")
    ev.set_defaults(handler=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Codec-only evaluation of the given codecs over their knob values."""
    from semlink.codecs import CODECS
    from semlink.data import open_source
    from semlink.sim.evaluate import evaluate
    from semlink.vision.segmenter import segmenter_for

    defaults = [
        (k, v)
        for k, values in (("rate", args.rate), ("target_bpp", args.target_bpp), ("quality", args.quality))
        for v in values
    ]
    if len({k for k, _ in defaults}) > 1:
        raise UserError("give one of --rate, --target-bpp, --quality (or put the knob in each --codec spec)")
    points = [point for spec in args.codec for point in parse_codec_spec(spec, defaults)]
    for point in points:
        CODECS.get(point.codec)
    source = open_source(args.data, args.split, args.size, args.root, seed=args.seed)
    segmenter = segmenter_for(source.label_set, args.segmenter, args.device)
    evaluate(source, args.frames, points, segmenter, args.out, device=args.device)
    print(f"results: {args.out / 'results.csv'}; plot: {args.out / 'miou_vs_bpp.png'}")
    return 0


def parse_codec_spec(spec: str, defaults: list[tuple[str, float]]) -> list[EvalPoint]:
    """``NAME[:KNOB=V1,V2][:OPTION=VALUE]`` -> one point per knob value (``defaults`` if no knob)."""
    from semlink.sim.evaluate import EvalPoint

    name, *settings = spec.split(":")
    knob_values: list[tuple[str, float]] = []
    options: list[tuple[str, object]] = []
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key or not value:
            raise UserError(f"--codec {spec!r}: {setting!r} must look like key=value")
        if key in ("rate", "target_bpp", "quality"):
            try:
                knob_values += [(key, float(v)) for v in value.split(",")]
            except ValueError:
                raise UserError(f"--codec {spec!r}: {key} takes numbers separated by commas") from None
        else:
            options.append((key, yaml.safe_load(value)))
    if len({k for k, _ in knob_values}) > 1:
        raise UserError(f"--codec {spec!r}: give one knob")
    chosen = knob_values or defaults or [("rate", 1.0)]
    return [EvalPoint(name, knob, value, tuple(options)) for knob, value in chosen]
