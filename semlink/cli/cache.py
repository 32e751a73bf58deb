"""``semlink cache info|clear FOLDER``: the work cache of a run (or one shared between runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from semlink.cli.common import OneLineParser, UserError


def add_cache(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink cache info|clear FOLDER``."""
    cache = sub.add_parser("cache", help="what a work cache holds (info), or empty it (clear)")
    cache.add_argument("action", choices=("info", "clear"), help="info: entries and size per stage; clear: delete them")
    cache.add_argument(
        "folder", type=Path, metavar="FOLDER", help="the cache folder, or a run's folder (its cache/ is meant)"
    )
    cache.set_defaults(handler=run_cache)


def cache_root(folder: Path) -> Path:
    """The cache folder meant by ``folder``: itself, or its ``cache/`` (a run's output folder).

    :raises UserError: when neither is a semlink work cache.
    """
    from semlink.workcache import MARKER

    for candidate in (folder, folder / "cache"):
        if (candidate / MARKER).is_file():
            return candidate
    raise UserError(f"{folder} is not a work cache nor a run folder with one; give the folder a run's `cache:` names")


def run_cache(args: argparse.Namespace) -> int:
    """Print a cache's entries per stage, or delete them."""
    from semlink.workcache import clear, describe

    root = cache_root(args.folder)
    if args.action == "clear":
        print(f"{root}: {clear(root)} entries deleted")
        return 0
    total_entries = total_bytes = 0
    for stage, (count, size) in describe(root).items():
        print(f"{stage:15} {count:8d} entries {size / 1e6:10.1f} MB")
        total_entries, total_bytes = total_entries + count, total_bytes + size
    print(f"{'total':15} {total_entries:8d} entries {total_bytes / 1e6:10.1f} MB in {root}")
    return 0
