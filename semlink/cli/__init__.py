"""The ``semlink`` command line, one module per command group."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from semlink import __version__
from semlink.cli.cache import add_cache
from semlink.cli.channel import is_tool, main_tools
from semlink.cli.common import USER_ERRORS, OneLineParser, add_logging_options, apply_logging_options, one_line
from semlink.cli.data import add_data
from semlink.cli.evaluate import add_eval
from semlink.cli.keys import add_keys
from semlink.cli.listing import add_list
from semlink.cli.run import add_nodes, add_report, add_run, add_track
from semlink.cli.train import add_train

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = OneLineParser(prog="semlink", description="A networked semantic-communication simulator.")
    parser.add_argument("--version", action="version", version=f"semlink {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_run(sub)
    add_nodes(sub)
    add_report(sub)
    add_track(sub)
    add_eval(sub)
    add_train(sub)
    add_data(sub)
    add_keys(sub)
    add_list(sub)
    add_cache(sub)
    add_logging_options(parser)
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
        apply_logging_options(args)
        return handler(args)
    except Exception as error:
        if os.environ.get("SEMLINK_DEBUG") or not isinstance(error, USER_ERRORS):
            raise
        print(f"semlink: error: {one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("semlink: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`semlink list codecs | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
