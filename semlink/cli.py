"""The ``semlink`` command line."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import yaml

from semlink.cli_channel import is_tool, main_tools
from semlink.data.frame import parse_size
from semlink.errors import StageError
from semlink.registry import UnknownComponentError
from semlink.transport import PeerError

if TYPE_CHECKING:
    from semlink.sim.evaluate import EvalPoint
    from semlink.sim.scenario import Scenario


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 1."""


class OneLineParser(argparse.ArgumentParser):
    """Reports bad arguments in one line (and exit code 2) instead of the whole usage text."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` with a pointer to ``--help`` and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# Errors a user can fix, shown as one line (SEMLINK_DEBUG=1 shows the traceback instead).
USER_ERRORS = (UserError, ValueError, UnknownComponentError, StageError, PeerError, FileNotFoundError)


def size_arg(text: str) -> tuple[int, int]:
    """argparse type for ``HxW``."""
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive_int(text: str) -> int:
    """argparse type for an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


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


def add_data_options(parser: argparse.ArgumentParser, default_data: str | None = "synthetic") -> None:
    """``--data``, ``--split``, ``--root``, ``--size``, ``--seed`` shared by several commands."""
    parser.add_argument(
        "--data",
        default=default_data,
        required=default_data is None,
        help="frame source: synthetic, camvid, cityscapes, folder",
    )
    parser.add_argument("--split", default="val", help="split (default val)")
    parser.add_argument(
        "--root", default=None, help="dataset folder (camvid: $SEMLINK_CAMVID or ../shared/data/camvid)"
    )
    parser.add_argument("--size", type=size_arg, default=None, help="frame size HxW (default: the source's)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")


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


DEFAULT_SCENARIO = Path("scenarios") / "quickstart.yaml"


def default_scenario() -> Path:
    """``scenarios/quickstart.yaml`` here, else the one beside the package (editable installs)."""
    if DEFAULT_SCENARIO.exists():
        return DEFAULT_SCENARIO
    return Path(__file__).resolve().parents[1] / DEFAULT_SCENARIO


def add_scenario_options(parser: argparse.ArgumentParser, optional: bool) -> None:
    """The scenario argument and ``--set`` overrides."""
    if optional:
        parser.add_argument(
            "scenario", nargs="?", type=Path, default=None, help="scenario YAML (default scenarios/quickstart.yaml)"
        )
    else:
        parser.add_argument("scenario", type=Path, help="scenario YAML")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario field, e.g. --set channel.loss=[0,0.1] (repeatable)",
    )


def add_run(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink run``."""
    run = sub.add_parser("run", help="run a scenario: transmitter, channel and receiver, then the report")
    add_scenario_options(run, optional=True)
    run.add_argument("--frames", type=positive_int, default=None, help="frames per point (overrides data.frames)")
    run.add_argument("--out", type=Path, default=None, help="output folder (default results/<scenario name>)")
    run.add_argument(
        "--transport",
        choices=["zmq", "inproc"],
        default=None,
        help="zmq: three processes (default); inproc: the same stages in one process",
    )
    run.set_defaults(handler=run_scenario)


def load(args: argparse.Namespace) -> tuple[Scenario, str]:
    """The scenario of ``args`` with ``--set``, ``--frames`` and ``--transport`` applied."""
    from semlink.sim.scenario import load_scenario

    path = args.scenario if args.scenario is not None else default_scenario()
    overrides = list(args.overrides)
    if getattr(args, "frames", None) is not None:
        overrides.append(f"data.frames={args.frames}")
    if getattr(args, "transport", None) is not None:
        overrides.append(f"transport={args.transport}")
    return load_scenario(path, overrides), str(path)


def run_scenario(args: argparse.Namespace) -> int:
    """Run every pending point of the scenario, then write the report."""
    from semlink.sim.report import write_report
    from semlink.sim.runner import Run

    scenario, origin = load(args)
    out = args.out or Path(scenario.out or Path("results") / scenario.name)
    started = time.monotonic()
    ran = Run(scenario, origin, out).execute()
    written = write_report(out)
    print(
        f"{ran} points in {time.monotonic() - started:.0f} s; results: {out / 'results.csv'}; "
        f"report: {', '.join(str(p) for p in written)}"
    )
    return 0


def add_nodes(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink transmitter|channel|receiver SCENARIO``: one node of a run, e.g. in docker compose."""
    tx = sub.add_parser("transmitter", help="the transmitter node: frames -> codec -> packets -> channel")
    add_scenario_options(tx, optional=False)
    tx.add_argument("--points", default=None, help="comma-separated point indices to send (default all)")
    tx.set_defaults(handler=run_transmitter)
    ch = sub.add_parser(
        "channel",
        help="the channel node: impairs packets between transmitter and receiver "
        "(also: semlink channel curve|tables --help)",
        description="The channel node. The radio's tools are 'semlink channel curve' (BLER/BER against SNR) "
        "and 'semlink channel tables' (the phy model's BLER tables); see their --help.",
    )
    add_scenario_options(ch, optional=False)
    ch.set_defaults(handler=run_channel)
    rx = sub.add_parser("receiver", help="the receiver node: reassembles, decodes, scores, writes results")
    add_scenario_options(rx, optional=False)
    rx.add_argument("--out", type=Path, required=True, help="output folder for results.csv and frames.jsonl")
    rx.add_argument("--progress", action="store_true", help="print a JSON line per scored frame on stdout")
    rx.set_defaults(handler=run_receiver)


def parse_points(text: str | None) -> set[int] | None:
    """``"0,3,4"`` -> ``{0, 3, 4}``."""
    if text is None:
        return None
    try:
        return {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise UserError(f"--points {text!r} must be comma-separated integers") from None


def run_transmitter(args: argparse.Namespace) -> int:
    """The transmitter node."""
    from semlink.sim.nodes import transmitter_node
    from semlink.sim.runner import die_with_parent

    die_with_parent()
    scenario, origin = load(args)
    transmitter_node(scenario, origin, parse_points(args.points))
    return 0


def run_channel(args: argparse.Namespace) -> int:
    """The channel node."""
    from semlink.sim.nodes import channel_node
    from semlink.sim.runner import die_with_parent

    die_with_parent()
    scenario, origin = load(args)
    channel_node(scenario, origin)
    return 0


def run_receiver(args: argparse.Namespace) -> int:
    """The receiver node."""
    from semlink.sim.nodes import receiver_node
    from semlink.sim.runner import die_with_parent

    die_with_parent()
    scenario, origin = load(args)
    counters = receiver_node(scenario, origin, args.out, args.progress)
    rejected = {k: v for k, v in counters.items() if v}
    if rejected:
        print(f"receiver counters: {rejected}", file=sys.stderr)
    return 0


def add_report(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink report DIR``."""
    report = sub.add_parser("report", help="draw the plots and report.md of a results folder")
    report.add_argument("folder", type=Path, help="folder holding results.csv")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Write the report of a folder."""
    from semlink.sim.report import write_report

    for path in write_report(args.folder):
        print(path)
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = OneLineParser(prog="semlink", description="A networked semantic-communication simulator.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_run(sub)
    add_nodes(sub)
    add_report(sub)
    add_eval(sub)
    add_train(sub)
    add_data(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, turn user errors into one line and exit code 1."""
    typed = list(sys.argv[1:] if argv is None else argv)
    if is_tool(typed):
        args = main_tools(typed, OneLineParser)
    else:
        args = build_parser().parse_args(typed)
        args.argv = typed  # the command as typed, for training records
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except Exception as error:
        if os.environ.get("SEMLINK_DEBUG") or not isinstance(error, USER_ERRORS):
            raise
        print(f"semlink: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("semlink: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
