"""``semlink run``, the three nodes and ``semlink report``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from semlink.cli.common import OneLineParser, UserError, positive_int, written_line

if TYPE_CHECKING:
    from semlink.scenario.schema import Scenario


DEFAULT_SCENARIO = Path("scenarios") / "quickstart.yaml"


def default_scenario() -> Path:
    """``scenarios/quickstart.yaml`` here, else the one beside the package (editable installs)."""
    if DEFAULT_SCENARIO.exists():
        return DEFAULT_SCENARIO
    return Path(__file__).resolve().parents[2] / DEFAULT_SCENARIO


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
    run.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="run independent points at once, each worker a complete pipeline (default 1)",
    )
    run.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where units of points run: local child processes (default) or Ray tasks (semlink[ray])",
    )
    run.add_argument(
        "--address", default=None, help="with --executor ray: auto, or HOST:PORT of a cluster (default: start one here)"
    )
    run.add_argument("--points", default=None, help="run only these comma-separated sweep indices")
    run.add_argument("--no-report", action="store_true", help="write results only (no plots, report.md, report.html)")
    run.set_defaults(handler=run_scenario)


def load(args: argparse.Namespace) -> tuple[Scenario, str]:
    """The scenario of ``args`` with ``--set``, ``--frames`` and ``--transport`` applied, its names
    and files checked (before torch or any codec is imported)."""
    from semlink.scenario.loading import load_scenario
    from semlink.scenario.precheck import precheck

    path = args.scenario if args.scenario is not None else default_scenario()
    overrides = list(args.overrides)
    if getattr(args, "frames", None) is not None:
        overrides.append(f"data.frames={args.frames}")
    if getattr(args, "transport", None) is not None:
        overrides.append(f"transport={args.transport}")
    scenario = load_scenario(path, overrides)
    precheck(scenario, str(path))
    return scenario, str(path)


def run_scenario(args: argparse.Namespace) -> int:
    """Run every pending point of the scenario, then write the report."""
    scenario, origin = load(args)  # first: a bad scenario is refused before torch loads
    from semlink.executors.runner import Run
    from semlink.report.document import write_report
    from semlink.results.folder import hold_folder

    out = args.out or Path(scenario.out or Path("results") / scenario.name)
    from semlink.workcache import work_lines

    started, started_at = time.monotonic(), time.time()
    if args.address is not None and args.executor != "ray":
        raise UserError("--address is for --executor ray; add --executor ray or drop --address")
    only = parse_points(args.points)
    run = Run(scenario, origin, out, workers=args.workers, only=only, executor=args.executor, address=args.address)
    with hold_folder(out):  # one writer per folder, the report included
        ran = run.execute()
        written = [] if args.no_report else write_report(out)
    print(f"{ran} points in {time.monotonic() - started:.0f} s{'' if written else ' (no report)'}")
    if run.work:
        print("work: " + "; ".join(work_lines(run.work)))
    track(scenario, out)
    print(written_line(out, started_at))
    return 0


def track(scenario: Scenario, out: Path) -> None:
    """Log the finished run in ``out`` where the scenario's ``tracking`` says (nothing if it says nothing)."""
    if scenario.tracking.mlflow is None:
        return
    from semlink.report.mlflow_log import log_run, mlflow_target

    target = mlflow_target(out, scenario.tracking.mlflow, scenario.tracking.experiment or scenario.name)
    run_id = log_run(out, target)
    print(f"MLflow: run {run_id} in experiment {target.experiment!r} at {target.uri}")


def add_nodes(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink transmitter|channel|receiver SCENARIO``: one node of a run, e.g. in docker compose."""
    tx = sub.add_parser("transmitter", help="the transmitter node: frames -> codec -> packets -> channel")
    add_scenario_options(tx, optional=False)
    tx.add_argument("--points", default=None, help="comma-separated point indices to send (default all)")
    tx.add_argument(
        "--share",
        default=None,
        help="with vehicles.per_process: which share of the vehicles to send (0, 1, ...; auto: a compose "
        "replica's index; default $SEMLINK_SHARE or 0)",
    )
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
    rx.add_argument("--report", action="store_true", help="write the plots, report.md and report.html at the end")
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
    from semlink.nodes.parent import die_with_parent

    die_with_parent()  # before the heavy imports: a parent that dies meanwhile is seen at once
    from semlink.nodes.loops import node_study, transmitter_node
    from semlink.nodes.shares import resolve_share
    from semlink.study.trials import share_count

    scenario, origin = load(args)
    share = resolve_share(args.share, share_count(scenario))  # before anything loads
    transmitter_node(node_study(scenario, origin, "transmitter"), parse_points(args.points), share)
    return 0


def run_channel(args: argparse.Namespace) -> int:
    """The channel node."""
    from semlink.nodes.parent import die_with_parent

    die_with_parent()  # before the heavy imports: a parent that dies meanwhile is seen at once
    from semlink.nodes.loops import channel_node, node_study

    scenario, origin = load(args)
    channel_node(node_study(scenario, origin, "channel"))
    return 0


def run_receiver(args: argparse.Namespace) -> int:
    """The receiver node."""
    from semlink.nodes.parent import die_with_parent

    die_with_parent()  # before the heavy imports: a parent that dies meanwhile is seen at once
    from semlink.nodes.loops import node_study, receiver_node
    from semlink.results.folder import hold_folder

    scenario, origin = load(args)
    with hold_folder(args.out):  # a hand-started receiver is the folder's one writer too
        receiver_node(node_study(scenario, origin, "receiver"), args.out, args.progress)
        if args.report:
            from semlink.report.document import write_report

            for path in write_report(args.out):
                print(path)
            track(scenario, args.out)
    return 0


def add_report(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink report DIR``."""
    report = sub.add_parser(
        "report", help="draw the plots, report.md and report.html of a results folder (or overlay several)"
    )
    report.add_argument("folders", type=Path, nargs="+", metavar="FOLDER", help="folder(s) holding results.csv")
    report.add_argument("--out", type=Path, default=None, help="with several folders: where the overlay goes")
    report.add_argument("--x", default=None, help="plot the metric against this column (an axis such as link.mtu)")
    report.add_argument("--by", default=None, help="with --x: a line per value of this column (default: every axis)")
    report.add_argument("--y", default=None, help="the metric column to plot (default miou, else the first metric)")
    report.add_argument(
        "--capacity",
        type=Path,
        default=None,
        metavar="CLEAN",
        help="print the cell's capacity table against CLEAN, a run of the same vehicles on ideal links",
    )
    report.set_defaults(handler=run_report)


def add_track(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink track DIR``."""
    track_parser = sub.add_parser("track", help="log a finished results folder to MLflow (semlink[tracking])")
    track_parser.add_argument("folder", type=Path, metavar="FOLDER", help="a run's folder (results.csv, scenario.yaml)")
    track_parser.add_argument(
        "--mlflow",
        default=None,
        help="tracking URI, a folder, or 'local' (FOLDER/mlflow.db); default: the run's scenario, else local",
    )
    track_parser.add_argument("--experiment", default=None, help="MLflow experiment (default: the scenario's name)")
    track_parser.set_defaults(handler=run_track)


def run_track(args: argparse.Namespace) -> int:
    """Log a results folder to MLflow."""
    from semlink.report.mlflow_log import LOCAL, log_run, mlflow_target
    from semlink.scenario.loading import load_scenario

    folder: Path = args.folder
    if not (folder / "results.csv").is_file():
        raise UserError(f"{folder} has no results.csv; give the folder of a finished `semlink run`")
    saved = folder / "scenario.yaml"
    scenario = load_scenario(saved) if saved.is_file() else None
    uri = args.mlflow or (scenario.tracking.mlflow if scenario else None) or LOCAL
    experiment = args.experiment or (scenario.tracking.experiment or scenario.name if scenario else folder.name)
    target = mlflow_target(folder, uri, experiment)
    run_id = log_run(folder, target)
    print(f"MLflow: run {run_id} in experiment {target.experiment!r} at {target.uri}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Write the report of a folder."""
    from semlink.report.document import write_report

    if args.by is not None and args.x is None:
        raise UserError("--by needs --x (the column to plot the metric against)")
    folders: list[Path] = args.folders
    if args.capacity is not None:
        from semlink.report.capacity import capacity_markdown, capacity_rows

        try:
            print(capacity_markdown(capacity_rows(folders[0], args.capacity)))
        except ValueError as error:
            raise UserError(str(error)) from None
        return 0
    if len(folders) > 1 and args.out is None:
        raise UserError(f"overlaying {len(folders)} runs needs --out DIR (where their joint report goes)")
    if len(folders) == 1:
        written = write_report(args.out or folders[0], args.x, args.by, args.y, runs=folders if args.out else ())
    else:
        written = write_report(args.out, args.x, args.by, args.y, runs=folders)
    for path in written:
        print(path)
    return 0
