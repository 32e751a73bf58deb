"""``semlink train segmenter|codec|map-model``."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from semlink.cli.common import OneLineParser, UserError, positive_int, size_arg


def add_train(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink train segmenter`` and ``semlink train codec``."""
    train = sub.add_parser("train", help="train a model (segmenter, codec, map-model)")
    kinds = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    seg = kinds.add_parser("segmenter", help="train the segmentation network")
    seg.add_argument("--data", required=True, help="frame source: synthetic, camvid, cityscapes, folder")
    seg.add_argument("--root", default=None, help="dataset folder (file-based sources)")
    seg.add_argument("--size", type=size_arg, default=None, help="frame size HxW (default: the source's)")
    seg.add_argument(
        "--train-frames",
        type=positive_int,
        default=None,
        help="use only the first N training frames (synthetic: how many to render)",
    )
    seg.add_argument("--val-frames", type=positive_int, default=None, help="score on the first N val frames")
    seg.add_argument("--epochs", type=positive_int, required=True, help="passes over the training frames")
    seg.add_argument("--crop", type=size_arg, default=(256, 320), help="training crop HxW (default 256x320)")
    seg.add_argument("--batch", type=positive_int, default=8, help="crops per step (default 8)")
    seg.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    seg.add_argument("--widths", default="32,64,128", help="channels at 1/4,1/8,1/16 (default 32,64,128)")
    seg.add_argument("--decoder", type=positive_int, default=64, help="decoder channels (default 64)")
    seg.add_argument("--max-minutes", type=float, default=None, help="stop training after this long")
    seg.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default 2)")
    seg.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    seg.add_argument(
        "--out", type=Path, required=True, help="checkpoint path (.pt); a .txt record is written beside it"
    )
    seg.set_defaults(handler=run_train_segmenter)
    add_train_codec(kinds)


def add_train_codec(kinds: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink train codec``: the network of every semantic codec (sqgan, spic, ssm, gan)."""
    codec = kinds.add_parser("codec", help="train the semantic codec network (one per label set)")
    codec.add_argument("--data", required=True, help="frame source: synthetic, camvid, cityscapes, folder")
    codec.add_argument("--root", default=None, help="dataset folder (file-based sources)")
    codec.add_argument("--size", type=size_arg, default=None, help="frame size HxW (default: the source's)")
    codec.add_argument("--train-frames", type=positive_int, default=None, help="use (or render) N training frames")
    codec.add_argument("--val-frames", type=positive_int, default=30, help="score on the first N val frames")
    codec.add_argument("--segmenter", default=None, help="segmenter making the maps (default: the shipped one)")
    codec.add_argument("--max-minutes", type=float, required=True, help="training time budget")
    codec.add_argument("--steps", type=positive_int, default=100_000, help="step limit (default 100000)")
    codec.add_argument("--crop", type=size_arg, default=(128, 192), help="training crop HxW (default 128x192)")
    codec.add_argument("--batch", type=positive_int, default=8, help="crops per step (default 8)")
    codec.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    codec.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default 2)")
    codec.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    codec.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt); a .txt record goes beside it")
    codec.set_defaults(handler=run_train_codec)
    maps = kinds.add_parser("map-model", help="refit the map coder's context model inside a codec checkpoint")
    maps.add_argument("--data", required=True, help="frame source of the checkpoint's label set")
    maps.add_argument("--root", default=None, help="dataset folder (file-based sources)")
    maps.add_argument("--size", type=size_arg, default=None, help="frame size HxW (default: the source's)")
    maps.add_argument("--train-frames", type=positive_int, default=None, help="use (or render) N training frames")
    maps.add_argument("--segmenter", default=None, help="segmenter making the maps (default: the shipped one)")
    maps.add_argument("--seed", type=int, default=0, help="seed of the data (default 0)")
    maps.add_argument("--checkpoint", type=Path, required=True, help="the codec checkpoint (.pt) to update")
    maps.set_defaults(handler=run_train_map_model)


def run_train_map_model(args: argparse.Namespace) -> int:
    """Refit the map model of a codec checkpoint."""
    from semlink.codecs.semantic.fit import refit_map_model
    from semlink.data import open_source
    from semlink.data.frame import FrameSource
    from semlink.data.subset import Subset
    from semlink.vision.segmenter import TorchSegmenter, segmenter_for

    train: FrameSource = open_source(args.data, "train", args.size, args.root, seed=args.seed)
    if args.train_frames is not None:
        train = Subset(train, args.train_frames)
    segmenter = segmenter_for(train.label_set, args.segmenter, "auto")
    if not isinstance(segmenter, TorchSegmenter):
        raise UserError("--segmenter must be a torch segmenter")
    refit_map_model(train, segmenter, args.checkpoint, "semlink " + shlex.join(args.argv))
    print(f"map model of {args.checkpoint} refitted on {len(train)} frames")
    return 0


def run_train_codec(args: argparse.Namespace) -> int:
    """Train the semantic codec network and write its checkpoint and record."""
    from semlink.codecs.semantic.fit import CodecTrainSettings, train_codec
    from semlink.data import open_source
    from semlink.data.frame import FrameSource
    from semlink.data.subset import Subset
    from semlink.vision.segmenter import TorchSegmenter, segmenter_for

    if args.crop[0] % 16 or args.crop[1] % 16:
        raise UserError(f"--crop {args.crop[0]}x{args.crop[1]} must be multiples of 16, e.g. 128x192")
    check_writable(args.out)
    train: FrameSource = open_source(args.data, "train", args.size, args.root, seed=args.seed)
    val: FrameSource = open_source(args.data, "val", args.size, args.root, seed=args.seed)
    if args.train_frames is not None:
        train = Subset(train, args.train_frames)
    segmenter = segmenter_for(train.label_set, args.segmenter, "auto")
    if not isinstance(segmenter, TorchSegmenter):
        raise UserError("--segmenter must be a torch segmenter (the task loss needs its gradients)")
    settings = CodecTrainSettings(
        max_minutes=args.max_minutes,
        steps=args.steps,
        crop=args.crop,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        val_frames=args.val_frames,
    )
    command = "semlink " + shlex.join(args.argv)
    scores = train_codec(train, val, segmenter, settings, args.out, command)
    print("val mIoU: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    print(f"checkpoint {args.out}, record {args.out.with_suffix('.txt')}")
    return 0


def parse_widths(text: str) -> tuple[int, int, int]:
    """``"32,64,128"`` -> ``(32, 64, 128)``."""
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise UserError(f"--widths {text!r} must be three positive integers, e.g. 32,64,128")
    return int(parts[0]), int(parts[1]), int(parts[2])


def check_writable(path: Path) -> None:
    """Fail before hours of training if the checkpoint could not be written."""
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; give a file path such as {path / 'segmenter.pt'}")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise UserError(f"--out {path}: cannot write into {parent}")


def run_train_segmenter(args: argparse.Namespace) -> int:
    """Train a segmenter and write its checkpoint and record."""
    from semlink.data import open_source
    from semlink.data.frame import FrameSource
    from semlink.data.subset import Subset
    from semlink.vision.train import TrainSettings, train_segmenter

    widths = parse_widths(args.widths)
    check_writable(args.out)
    train: FrameSource = open_source(args.data, "train", args.size, args.root, seed=args.seed)
    val: FrameSource = open_source(args.data, "val", args.size, args.root, seed=args.seed)
    if args.train_frames is not None:
        train = Subset(train, args.train_frames)
    if args.val_frames is not None:
        val = Subset(val, args.val_frames)
    settings = TrainSettings(
        epochs=args.epochs,
        crop=args.crop,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        widths=widths,
        decoder=args.decoder,
        max_minutes=args.max_minutes,
        threads=args.threads,
    )
    command = "semlink " + shlex.join(args.argv)
    scores = train_segmenter(train, val, settings, args.out, command)
    print(f"val mIoU {scores.miou:.4f}; checkpoint {args.out}, record {args.out.with_suffix('.txt')}")
    return 0
