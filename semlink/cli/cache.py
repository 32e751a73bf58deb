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
    """Print a cache's entries per stage, or delete them (only plain files inside the folder:
    symbolic links in it are never followed nor deleted, only named)."""
    from semlink.workcache import clear, describe, links

    root = cache_root(args.folder)
    if args.action == "clear":
        try:
            print(f"{root}: {clear(root)} entries deleted")
        except PermissionError as error:
            raise UserError(f"cannot delete {error.filename}: permission denied; clear it as its owner") from None
    else:
        print_info(root, describe(root))
    found = links(root)
    if found:
        print(f"{len(found)} symbolic links left alone (the cache never follows them), e.g. {found[0]}")
    return 0


def print_info(root: Path, stages: dict[str, tuple[int, int]]) -> None:
    """Entries and megabytes per stage, and their total."""
    total_entries = total_bytes = 0
    for stage, (count, size) in stages.items():
        print(f"{stage:15} {count:8d} entries {size / 1e6:10.1f} MB")
        total_entries, total_bytes = total_entries + count, total_bytes + size
    print(f"{'total':15} {total_entries:8d} entries {total_bytes / 1e6:10.1f} MB in {root}")
