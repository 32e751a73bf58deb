"""What every command group shares: the one-line parser, user errors and argument types."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from semlink.data.frame import parse_size
from semlink.errors import StageError
from semlink.logs import add_logging_options, apply_logging_options
from semlink.nodes.transport import PeerError
from semlink.registry import UnknownComponentError


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 1."""


class OneLineParser(argparse.ArgumentParser):
    """Reports bad arguments in one line (and exit code 2) instead of the whole usage text."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` with a pointer to ``--help`` and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


__all__ = ["USER_ERRORS", "OneLineParser", "UserError", "add_logging_options", "apply_logging_options", "one_line"]

# Errors a user can fix, shown as one line (SEMLINK_DEBUG=1 shows the traceback instead).
USER_ERRORS = (UserError, ValueError, UnknownComponentError, StageError, PeerError, FileNotFoundError, PermissionError)


def one_line(error: Exception) -> str:
    """A user error's message as one line: a denied file names the file and the fix."""
    if isinstance(error, PermissionError):
        where = f" on {error.filename}" if error.filename else ""
        return f"permission denied{where}; give a path you may write to (e.g. another --out) or change its permissions"
    return str(error)


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


HIDDEN_FILES = (".lock",)
"""Files of an output folder that are not results (the writer's lock)."""


def written_line(out: Path, since: float) -> str:
    """``wrote in OUT: results.csv, frames.jsonl, ...``: every file of ``out`` (not its folders:
    logs, cache) written since ``since`` (a ``time.time()``), sorted, so the last line of a
    command names all it left."""
    names = sorted(
        p.name
        for p in out.iterdir()
        if p.is_file() and not p.is_symlink() and p.name not in HIDDEN_FILES and p.stat().st_mtime >= since - 1.0
    ) if out.is_dir() else []  # fmt: skip
    return f"wrote in {out}: {', '.join(names) or 'nothing'}"
