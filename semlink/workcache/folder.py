"""The cache folder on disk: its layout, walking its entries, evicting and clearing them.

``ROOT/<stage>/<key[:2]>/<key>``. The walk never follows a symbolic link: a linked stage or
shard folder is not entered and a linked entry is not listed, so nothing outside the folder is
ever counted, read or deleted; every deletion checks again that the file is a plain file whose
folder lies inside the root (resolved once: a root reached through a link is the user's choice).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

LOG = logging.getLogger("semlink.workcache")
MARKER = "SEMLINK-CACHE"
"""A file in every cache root: `semlink cache clear` deletes only folders that have it."""
STAGES = ("segment-source", "encode", "decode", "segment", "score")
"""The cached stages, in the order a frame meets them (``score``: a frame's metric values)."""
DEFAULT_MAX_BYTES = 2 << 30


def real_root(root: Path) -> Path:
    """The cache folder with every link on the way resolved (what deletions must stay inside)."""
    return Path(os.path.realpath(root))


def is_real_folder(path: Path | str) -> bool:
    """Whether ``path`` is a folder itself, not a symbolic link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _scan(folder: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as found:
            return list(found)
    except (FileNotFoundError, NotADirectoryError):  # another process removed it meanwhile
        return []


def entries(root: Path, stages: tuple[str, ...] = STAGES) -> Iterator[os.DirEntry[str]]:
    """Every entry file of the ``stages`` of a cache folder: plain files in plain folders only
    (links to files or folders, wherever they point, and temporary files are left out)."""
    for stage in stages:
        folder = root / stage
        if not is_real_folder(folder):
            continue
        for shard in _scan(str(folder)):
            if shard.is_dir(follow_symlinks=False):
                for entry in _scan(shard.path):
                    if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                        yield entry


def links(root: Path) -> list[Path]:
    """The symbolic links where a cache folder's stages, shards or entries lie: never followed,
    listed or deleted by the cache (``semlink cache`` names them)."""
    found = []
    for stage in STAGES:
        folder = root / stage
        if os.path.islink(folder):
            found.append(folder)
        elif is_real_folder(folder):
            for shard in _scan(str(folder)):
                if shard.is_symlink():
                    found.append(Path(shard.path))
                elif shard.is_dir(follow_symlinks=False):
                    found.extend(Path(entry.path) for entry in _scan(shard.path) if entry.is_symlink())
    return found


def remove_entry(inside: Path, path: Path | str) -> bool:
    """Delete one entry file if it is a plain file two folders below ``inside`` (the cache's
    :func:`real_root`); anything else (a link, a folder, a path leading outside) is left alone.
    Returns whether it was deleted (another process deleting it first is fine)."""
    shard = Path(os.path.realpath(os.path.dirname(path)))
    if shard.parent.parent != inside:
        LOG.warning("work cache: %s lies outside %s; left alone", path, inside)
        return False
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def evict(root: Path, max_bytes: int) -> int:
    """Delete the least recently used entries until the folder holds at most 80 % of ``max_bytes``;
    returns how many went (another process deleting the same ones is fine)."""
    found = []
    for entry in entries(root):
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        found.append((info.st_mtime, info.st_size, entry.path))
    total = sum(size for _, size, _ in found)
    if total <= max_bytes:
        return 0
    inside, removed = real_root(root), 0
    for _, size, path in sorted(found):
        if total <= 0.8 * max_bytes:
            break
        if remove_entry(inside, path):
            removed += 1
        total -= size
    LOG.info("work cache: evicted %d entries from %s", removed, root)
    return removed


def describe(root: Path) -> dict[str, tuple[int, int]]:
    """``{stage: (entries, bytes)}`` of a cache folder."""
    out = {}
    for stage in STAGES:
        sizes = []
        for entry in entries(root, (stage,)):
            try:
                sizes.append(entry.stat(follow_symlinks=False).st_size)
            except FileNotFoundError:
                continue
        out[stage] = (len(sizes), sum(sizes))
    return out


def clear(root: Path) -> int:
    """Delete every entry of a cache folder (the folder must carry the marker); returns how many.
    Links inside it are neither followed nor deleted.

    :raises ValueError: when ``root`` has no marker.
    """
    if not (root / MARKER).is_file():
        raise ValueError(f"{root} is not a semlink work cache (it has no {MARKER} file); give the cache's folder")
    inside = real_root(root)
    return sum(remove_entry(inside, entry.path) for entry in list(entries(root)))
