"""``semlink data synth|show``."""

from __future__ import annotations

import argparse
from pathlib import Path

from semlink.cli.common import OneLineParser, UserError, positive_int, size_arg


def add_data(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink data synth`` and ``semlink data show``."""
    data = sub.add_parser("data", help="make or look at frames")
    verbs = data.add_subparsers(dest="verb", required=True, metavar="VERB")
    synth = verbs.add_parser("synth", help="write synthetic scenes in the Cityscapes layout")
    synth.add_argument("--out", type=Path, required=True, help="folder to write leftImg8bit/ and gtFine/ into")
    synth.add_argument("--split", default="train", help="train, val or test (default train)")
    synth.add_argument("--n", type=positive_int, required=True, help="number of frames")
    synth.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    synth.add_argument("--size", type=size_arg, default=(256, 512), help="HxW, multiples of 16 (default 256x512)")
    synth.add_argument("--sequence", type=positive_int, default=1, help="frames per drive (default 1)")
    synth.set_defaults(handler=run_data_synth)
    show = verbs.add_parser("show", help="save a contact sheet of frames and their labels")
    show.add_argument("source", help="frame source: synthetic, camvid, cityscapes, folder")
    show.add_argument("--out", type=Path, required=True, help="PNG to write")
    show.add_argument("--split", default="val", help="split (default val)")
    show.add_argument("--root", default=None, help="dataset folder (file-based sources)")
    show.add_argument("--size", type=size_arg, default=None, help="frame size HxW")
    show.add_argument("--n", type=positive_int, default=8, help="frames on the sheet (default 8)")
    show.add_argument("--seed", type=int, default=0, help="scene seed (default 0)")
    show.set_defaults(handler=run_data_show)


def run_data_synth(args: argparse.Namespace) -> int:
    """Write ``n`` synthetic frames into the Cityscapes layout, with progress."""
    from rich.progress import track

    from semlink.data.cityscapes import write_cityscapes
    from semlink.data.synthetic import SyntheticDriving

    source = SyntheticDriving(args.split, args.size, args.seed, sequence=args.sequence)
    if args.n > len(source):
        raise UserError(f"--n {args.n} exceeds the {len(source)} frames of the synthetic {args.split} split")
    for frame in track(source.take(args.n), total=args.n, description="rendering"):
        write_cityscapes(args.out, args.split, "synthetic", frame)
    print(f"wrote {args.n} frames to {args.out} (read them back with --data cityscapes --root {args.out})")
    return 0


def run_data_show(args: argparse.Namespace) -> int:
    """Save a contact sheet."""
    from semlink.data import open_source
    from semlink.data.sheet import contact_sheet

    source = open_source(args.source, args.split, args.size, args.root, seed=args.seed)
    count = contact_sheet(source.take(args.n), source.label_set, args.out)
    print(f"wrote {count} frames to {args.out}")
    return 0
