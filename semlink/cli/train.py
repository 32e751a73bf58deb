"""``semlink train segmenter|codec|map-model``."""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semlink.cli.common import OneLineParser, UserError, positive_int, size_arg

if TYPE_CHECKING:
    from semlink.tracking import TensorBoardTracker


def add_train(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink train segmenter`` and ``semlink train codec``."""
    train = sub.add_parser("train", help="train a model (segmenter, codec, map-model)")
    kinds = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    seg = kinds.add_parser("segmenter", help="train the segmentation network (or --resume a run)")
    seg.add_argument("--data", default=None, help="frame source: synthetic, camvid, cityscapes, folder")
    seg.add_argument("--root", default=None, help="dataset folder (file-based sources)")
    seg.add_argument("--size", type=size_arg, default=None, help="frame size HxW (default: the source's)")
    seg.add_argument(
        "--train-frames",
        type=positive_int,
        default=None,
        help="use only the first N training frames (synthetic: how many to render)",
    )
    seg.add_argument("--val-frames", type=positive_int, default=None, help="score on the first N val frames")
    seg.add_argument("--epochs", type=positive_int, default=None, help="the leg's step budget in passes over train")
    seg.add_argument("--crop", type=size_arg, default=None, help="training crop HxW (default 256x320)")
    seg.add_argument("--batch", type=positive_int, default=None, help="crops per step (default 8)")
    seg.add_argument("--lr", type=float, default=None, help="peak learning rate of leg 1 (default 3e-3)")
    seg.add_argument("--widths", default=None, help="channels at 1/4,1/8,1/16 (default 32,64,128)")
    seg.add_argument("--decoder", type=positive_int, default=None, help="decoder channels (default 64)")
    seg.add_argument("--focus-share", type=float, default=None, help="share of crops on thin classes (default 0.4)")
    seg.add_argument("--max-minutes", type=float, default=None, help="stop the leg after this long")
    seg.add_argument("--eval-every", type=int, default=None, help="score held-out frames every N steps (0: leg end)")
    seg.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default 2)")
    seg.add_argument("--seed", type=int, default=None, help="seed of the run (default 0)")
    seg.add_argument("--resume", type=Path, default=None, help="continue the run of this checkpoint for one more leg")
    seg.add_argument(
        "--out", type=Path, required=True, help="checkpoint path (.pt); a .txt record is written beside it"
    )
    add_tensorboard_option(seg)
    seg.set_defaults(handler=run_train_segmenter)
    add_train_codec(kinds)


def add_train_codec(kinds: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink train codec``: the network of every semantic codec (sqgan, spic, ssm, gan)."""
    codec = kinds.add_parser("codec", help="train the semantic codec network (one per label set)")
    codec.add_argument("--data", default=None, help="frame source: synthetic, camvid, cityscapes, folder")
    codec.add_argument("--root", default=None, help="dataset folder (file-based sources)")
    codec.add_argument("--size", type=size_arg, default=None, help="frame size HxW (default: the source's)")
    codec.add_argument("--train-frames", type=positive_int, default=None, help="use (or render) N training frames")
    codec.add_argument("--val-frames", type=positive_int, default=None, help="score N held-out and val frames (30)")
    codec.add_argument("--segmenter", default=None, help="segmenter making the maps (default: the shipped one)")
    codec.add_argument("--max-minutes", type=float, required=True, help="the leg's training time budget")
    codec.add_argument("--steps", type=positive_int, default=None, help="the leg's step limit (default 100000)")
    codec.add_argument("--crop", type=size_arg, default=None, help="training crop HxW (default 128x192)")
    codec.add_argument("--batch", type=positive_int, default=None, help="crops per step (default 8)")
    codec.add_argument("--lr", type=float, default=None, help="peak learning rate of leg 1 (default 2e-3)")
    codec.add_argument("--threads", type=positive_int, default=2, help="CPU threads (default 2)")
    codec.add_argument(
        "--task-weight", type=float, default=None, help="weight of the segmenter's loss on the reconstruction (1)"
    )
    codec.add_argument("--seed", type=int, default=None, help="seed of the run (default 0)")
    codec.add_argument("--resume", type=Path, default=None, help="continue the run of this checkpoint for one more leg")
    codec.add_argument(
        "--init", type=Path, default=None, help="start a new run from the network of this codec checkpoint (.pt)"
    )
    codec.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt); a .txt record goes beside it")
    add_tensorboard_option(codec)
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


def add_tensorboard_option(parser: argparse.ArgumentParser) -> None:
    """``--tensorboard [DIR]``: losses, scores and sample images to TensorBoard (semlink[tracking])."""
    parser.add_argument(
        "--tensorboard",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="log losses, scores and sample images for TensorBoard into DIR/<checkpoint name> "
        "(default DIR: a tensorboard folder beside --out; needs semlink[tracking])",
    )


def tensorboard_tracker(args: argparse.Namespace, offset: int) -> TensorBoardTracker | None:
    """The leg's TensorBoard tracker if ``--tensorboard`` was given (made before any training, so a
    missing extra is reported at once)."""
    if args.tensorboard is None:
        return None
    from semlink.tracking import TensorBoardTracker, tensorboard_logger

    directory = Path(args.tensorboard) if args.tensorboard else args.out.parent / "tensorboard"
    tracker = TensorBoardTracker(tensorboard_logger(directory, args.out.stem), offset)
    print(f"TensorBoard: {directory / args.out.stem} (tensorboard --logdir {directory})")
    return tracker


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
    """Train the semantic codec network (one leg) and write its checkpoint, record and resume state."""
    from semlink.codecs.semantic.fit import CodecTrainSettings, train_codec
    from semlink.data import open_source
    from semlink.training import EvalSets, selection_split
    from semlink.vision.checkpoint import load_resume
    from semlink.vision.segmenter import TorchSegmenter, segmenter_for

    check_writable(args.out)
    if args.init is not None and args.resume is not None:
        raise UserError("--init starts a new run and --resume continues one: give one of them")
    if args.init is not None and not args.init.is_file():
        raise UserError(f"--init {args.init}: no such codec checkpoint; pass the .pt of a codec run")
    state = load_resume(args.resume, "codec") if args.resume is not None else None
    given = shape_args(args, ("crop", "batch", "lr", "seed", "val_frames"))
    per_leg: dict[str, Any] = {"max_minutes": args.max_minutes, "threads": args.threads}
    if args.steps is not None:
        per_leg["steps"] = args.steps
    if args.task_weight is not None:
        if not args.task_weight >= 0:
            raise UserError(f"--task-weight {args.task_weight} must be a number >= 0 (default 1)")
        per_leg["task_weight"] = args.task_weight
    settings = merge_settings(CodecTrainSettings, given, per_leg, state["settings"] if state else None)
    if settings.crop[0] % 16 or settings.crop[1] % 16:
        raise UserError(f"--crop {settings.crop[0]}x{settings.crop[1]} must be multiples of 16, e.g. 128x192")
    data = data_spec(args, state["data"] if state else None, (*DATA_ARGS[:4], "segmenter"))
    size = tuple(data["size"]) if data["size"] else None
    train, held, note = selection_split(data["data"], size, data["root"], settings.seed, data["train_frames"])
    val = open_source(data["data"], "val", size, data["root"], seed=settings.seed)
    segmenter = segmenter_for(train.label_set, data["segmenter"], "auto")
    if not isinstance(segmenter, TorchSegmenter):
        raise UserError("--segmenter must be a torch segmenter (the task loss needs its gradients)")
    command = "semlink " + shlex.join(args.argv)
    sets = EvalSets(held, val, note)
    tracker = tensorboard_tracker(args, int(state["step"]) if state else 0)
    scores = train_codec(train, sets, segmenter, settings, args.out, command, args.resume, data, tracker, args.init)
    print("val: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
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


SHAPE_ARGS = ("crop", "batch", "lr", "seed", "widths", "decoder", "focus_share")
"""Settings a resumed run keeps from its first leg (passing another value is an error)."""
DATA_ARGS = ("data", "size", "root", "train_frames", "val_frames")


def shape_args(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The arguments among ``names`` the user gave (None = not given)."""
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if "widths" in given:
        given["widths"] = parse_widths(given["widths"])
    return given


def merge_settings(cls: Any, given: dict[str, Any], per_leg: dict[str, Any], stored: dict[str, Any] | None) -> Any:
    """A new run's settings (``given`` + ``per_leg``), or a resumed run's stored ones with only
    the per-leg values replaced; a given shape value that differs from the stored one is an error."""
    if stored is None:
        return cls(**given, **per_leg)
    settings = cls.from_dict(stored)
    for name, value in given.items():
        if getattr(settings, name) != value:
            raise UserError(
                f"--{name.replace('_', '-')} {value} differs from the resumed run's {getattr(settings, name)}; "
                "drop it (a resumed run keeps its shape) or start a new run"
            )
    return replace(settings, **per_leg)


def segmenter_settings(args: argparse.Namespace, stored: dict[str, Any] | None) -> Any:
    """The leg's :class:`TrainSettings`: the arguments, or a resumed run's settings with the
    per-leg ones (epochs, minutes, threads, evaluation interval) taken from the arguments."""
    from semlink.vision.train import TrainSettings

    per_leg = {"max_minutes": args.max_minutes, "threads": args.threads}
    per_leg.update({k: getattr(args, k) for k in ("epochs", "eval_every") if getattr(args, k) is not None})
    if stored is None and args.epochs is None:
        raise UserError("--epochs is required for a new run (the leg's step budget), e.g. --epochs 200")
    return merge_settings(TrainSettings, shape_args(args, SHAPE_ARGS), per_leg, stored)


def data_spec(
    args: argparse.Namespace, stored: dict[str, Any] | None, names: tuple[str, ...] = DATA_ARGS
) -> dict[str, Any]:
    """Which frames the run trains on: the arguments, or the resumed run's (which they must match)."""
    given = {name: getattr(args, name) for name in names}
    if given["size"] is not None:
        given["size"] = list(given["size"])
    if stored is None:
        if args.data is None:
            raise UserError("--data is required for a new run, e.g. --data camvid")
        return given
    for name, value in given.items():
        if value is not None and stored.get(name) != value:
            raise UserError(
                f"--{name.replace('_', '-')} {value} differs from the resumed run's {stored.get(name)}; drop it"
            )
    return dict(stored)


def run_train_segmenter(args: argparse.Namespace) -> int:
    """Train a segmenter (one leg) and write its checkpoint, record and resume state."""
    from semlink.data import open_source
    from semlink.data.frame import FrameSource
    from semlink.data.subset import Subset
    from semlink.training import EvalSets, selection_split
    from semlink.vision.checkpoint import load_resume
    from semlink.vision.train import train_segmenter

    check_writable(args.out)
    state = load_resume(args.resume, "segmenter") if args.resume is not None else None
    settings = segmenter_settings(args, state["settings"] if state else None)
    data = data_spec(args, state["data"] if state else None)
    size = tuple(data["size"]) if data["size"] else None
    train, held, note = selection_split(data["data"], size, data["root"], settings.seed, data["train_frames"])
    val: FrameSource = open_source(data["data"], "val", size, data["root"], seed=settings.seed)
    if data.get("val_frames") is not None:
        val = Subset(val, data["val_frames"])
    command = "semlink " + shlex.join(args.argv)
    tracker = tensorboard_tracker(args, int(state["step"]) if state else 0)
    sets = EvalSets(held, val, note)
    scores = train_segmenter(train, sets, settings, args.out, command, args.resume, data, tracker)
    print(
        f"held-out mIoU {scores['held-out mIoU']:.4f}, val mIoU {scores['val mIoU']:.4f}; "
        f"checkpoint {args.out}, record {args.out.with_suffix('.txt')}"
    )
    return 0
