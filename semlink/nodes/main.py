"""The nodes' own entry point: ``python -m semlink.nodes ROLE STUDY [--out OUT] [--progress]``.

``semlink run`` starts its nodes this way (a transmitter per share of the vehicles with
``--share K`` where ``vehicles.per_process`` spreads them), each reading the study's description
(:meth:`semlink.study.study.Study.to_json`: the resolved scenario, the points, the transmitter's
pending ones) instead of parsing the scenario and expanding the sweep again. A node dies with its
parent. Errors end in one line (``semlink ROLE: error: ...``) and exit code 1; a signal ends it
with 143 (SIGTERM) or 130 (SIGINT). Nodes started by hand or by docker compose use ``semlink
transmitter|channel|receiver SCENARIO`` instead, which builds the same study from the file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from semlink.errors import StageError
from semlink.logs import add_logging_options, apply_logging_options
from semlink.registry import UnknownComponentError

ROLES = ("transmitter", "channel", "receiver")
NODE_ERRORS = (ValueError, StageError, UnknownComponentError, OSError)
"""What ends a node in one line (``SEMLINK_DEBUG=1`` shows the traceback instead)."""


def parser() -> argparse.ArgumentParser:
    """The node's command line."""
    node = argparse.ArgumentParser(prog="python -m semlink.nodes", description=__doc__)
    node.add_argument("role", choices=ROLES, help="which node")
    node.add_argument("study", type=Path, help="the study description (JSON) written by semlink run")
    node.add_argument("--out", type=Path, default=None, help="the receiver's output folder")
    node.add_argument("--progress", action="store_true", help="the receiver: a JSON line per scored frame on stdout")
    node.add_argument("--share", type=int, default=None, help="the transmitter: which share of the vehicles it sends")
    add_logging_options(node)
    return node


def main(argv: Sequence[str] | None = None) -> int:
    """Run one node; returns its exit code."""
    args = parser().parse_args(argv)
    from semlink.nodes.parent import die_with_parent

    die_with_parent()  # before the heavy imports (seconds): a parent that dies meanwhile is seen at once
    body = lambda: run_node(args.role, args.study, args.out, args.progress, args.share)  # noqa: E731
    return exit_code(f"semlink {args.role}", body, args)


def exit_code(name: str, body: Callable[[], object], args: argparse.Namespace) -> int:
    """Run ``body`` with the logging options of ``args`` as a child process's main: 0 when it
    returns, 1 with ``NAME: error: ...`` in one line for a :data:`NODE_ERRORS` error (its
    traceback with ``SEMLINK_DEBUG=1``), 130 on SIGINT."""
    try:
        apply_logging_options(args)
        body()
    except Exception as error:
        if os.environ.get("SEMLINK_DEBUG") or not isinstance(error, NODE_ERRORS):
            raise
        print(f"{name}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def run_node(role: str, description: Path, out: Path | None, progress: bool, share: int | None = None) -> None:
    """Load the study and run the node ``role`` on it (a transmitter: of vehicle share ``share``)."""
    from semlink.nodes.loops import channel_node, receiver_node, transmitter_node
    from semlink.study.study import Study

    study, pending = Study.from_json(description.read_text())
    if role == "transmitter":
        transmitter_node(study, pending, share)
    elif role == "channel":
        channel_node(study, pending)
    else:
        if out is None:
            raise ValueError("the receiver needs --out (the folder for results.csv)")
        receiver_node(study, out, progress)
