"""The entries themselves: :class:`WorkCache` reads, verifies and writes them.

An entry is the file ``ROOT/<stage>/<key[:2]>/<key>`` holding ``MAGIC + check + payload``, where
``check`` is a blake2b digest of the stage, the key and the payload together: the entry is bound to
its key, so one that is damaged, torn, or swapped, moved or copied under another key's name is
detected, deleted, counted (``torn``) and recomputed, never used. An entry of an older format
(another ``MAGIC``) is a plain miss. Entries are written to a temporary name and renamed into
place, so concurrent writers never see half an entry. No symbolic link inside the folder is ever
followed: an entry or folder that is a link is neither read nor written through (a miss,
recomputed; its value is not stored there), and only plain files inside the root are deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from semlink.workcache.folder import (
    DEFAULT_MAX_BYTES,
    LOG,
    MARKER,
    STAGES,
    evict,
    is_real_folder,
    real_root,
    remove_entry,
)
from semlink.workcache.stats import WorkStats

MAGIC = b"SLCACHE2"
"""The entry format's tag (the trailing digit its version: entries of another one are misses)."""
DIGEST = 16
T = TypeVar("T")
_KEY = re.compile(r"[0-9A-Za-z]{2,128}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def entry_check(stage: str, key: str, payload: bytes) -> bytes:
    """The digest that binds ``payload`` to its stage and key (each name length-prefixed)."""
    h = hashlib.blake2b(digest_size=DIGEST)
    for name in (stage.encode(), key.encode()):
        h.update(len(name).to_bytes(8, "little"))
        h.update(name)
    h.update(payload)
    return h.digest()


def entry_bytes(stage: str, key: str, payload: bytes) -> bytes:
    """What the file of ``key``'s entry in ``stage`` holds."""
    return MAGIC + entry_check(stage, key, payload) + payload


class WorkCache:
    """Entries of the cached stages in a folder (or nowhere: ``root=None`` computes everything and
    only counts).

    :param root: the cache folder (created with its marker), or None for no cache.
    :param max_bytes: the folder's bound; the least recently used entries go beyond it.
    """

    def __init__(self, root: Path | None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root, self.max_bytes = root, max_bytes
        self.stats = WorkStats()
        self._written = 0
        self._refused: set[Path] = set()
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
            (root / MARKER).touch()
        self._inside = None if root is None else real_root(root)

    @property
    def enabled(self) -> bool:
        """Whether values are kept (a folder was given)."""
        return self.root is not None

    def path(self, stage: str, key: str) -> Path:
        """Where the entry of ``key`` in ``stage`` lives."""
        assert self.root is not None
        return self.root / stage / key[:2] / key

    def read(self, stage: str, key: str) -> bytes | None:
        """The payload of an intact entry of this very key, or None: absent, of an older format, a
        link (never followed), or torn or another key's (deleted and counted in ``stats.torn``)."""
        if self.root is None:
            return None
        folder = self._shard(stage, key, create=False)
        if folder is None:
            return None
        path = folder / key
        if os.path.islink(path):
            self._refuse(path)
            return None
        data = _read_plain(path)
        if data is None:
            return None
        payload = self._verified(stage, key, path, data)
        if payload is not None:
            _touch(path)  # most recently used: eviction keeps it
        return payload

    def write(self, stage: str, key: str, payload: bytes) -> None:
        """Store an entry atomically (a temporary file renamed into place; a link in its place is
        replaced, never written through)."""
        if self.root is None:
            return
        folder = self._shard(stage, key, create=True)
        if folder is None:
            return
        path = folder / key
        temporary = folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        _write_new(temporary, entry_bytes(stage, key, payload))
        try:
            os.replace(temporary, path)
        except OSError:  # a folder in the entry's place: leave it, store nothing
            os.unlink(temporary)
            self._refuse(path)
            return
        self._written += len(payload)
        if self._written > self.max_bytes // 10:  # look at the folder's size every tenth of the bound
            self._written = 0
            self.stats.evicted += evict(self.root, self.max_bytes)

    def get_or_compute(
        self,
        stage: str,
        key: str | None,
        compute: Callable[[], T],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
    ) -> T:
        """The stage's value for ``key``: from the cache, or computed (timed, counted) and stored.
        ``key`` None: the value has no identity to key it by (computed, counted, never stored)."""
        work = self.stats.stage(stage)
        payload = None if key is None else self.read(stage, key)
        if payload is not None:
            work.hits += 1
            return decode(payload)
        started = time.perf_counter()
        value = compute()
        work.seconds += time.perf_counter() - started
        work.computed += 1
        if key is not None:
            self.write(stage, key, encode(value))
        return value

    def get_many(
        self,
        stage: str,
        keys: list[str | None],
        compute: Callable[[list[int]], list[T]],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
    ) -> list[T]:
        """Values for several keys at once: the cached ones read, the others computed together by
        ``compute(positions)`` (one batch) and stored."""
        work = self.stats.stage(stage)
        found: list[T | None] = []
        for key in keys:
            payload = None if key is None else self.read(stage, key)
            found.append(None if payload is None else decode(payload))
        missing = [i for i, value in enumerate(found) if value is None]
        work.hits += len(keys) - len(missing)
        if missing:
            started = time.perf_counter()
            computed = compute(missing)
            work.seconds += time.perf_counter() - started
            work.computed += len(missing)
            for i, value in zip(missing, computed, strict=True):
                found[i] = value
                key = keys[i]
                if key is not None:
                    self.write(stage, key, encode(value))
        return [value for value in found if value is not None]

    def _shard(self, stage: str, key: str, create: bool) -> Path | None:
        """The entry's folder, if it and its stage folder are plain folders (made if ``create``);
        None where one is absent, or a link or a file (never entered)."""
        assert self.root is not None
        _check(stage, key)
        folder = self.root
        for name in (stage, key[:2]):
            folder = folder / name
            if create:
                with contextlib.suppress(FileExistsError):
                    folder.mkdir()
            if not is_real_folder(folder):
                if os.path.lexists(folder):
                    self._refuse(folder)
                return None
        return folder

    def _verified(self, stage: str, key: str, path: Path, data: bytes) -> bytes | None:
        """The payload of ``data`` if it is an intact entry of ``key`` in ``stage``; a torn or
        misplaced one is deleted and counted, one of an older format is only a miss."""
        head = data[: len(MAGIC)]
        if head != MAGIC and len(head) == len(MAGIC) and head[:-1] == MAGIC[:-1]:
            LOG.debug("work cache: %s has an older entry format; recomputing it", path)
            return None
        payload = data[len(MAGIC) + DIGEST :]
        if head == MAGIC and data[len(MAGIC) : len(MAGIC) + DIGEST] == entry_check(stage, key, payload):
            return payload
        self.stats.torn += 1
        LOG.warning("work cache: %s is damaged or holds another key's entry; recomputing it", path)
        assert self._inside is not None
        remove_entry(self._inside, path)
        return None

    def _refuse(self, path: Path) -> None:
        """Say once per path that a link (or a stray file or folder) stands where the cache keeps
        entries: the cache does not follow it, so what would lie there is recomputed."""
        if path not in self._refused:
            self._refused.add(path)
            LOG.warning(
                "work cache: %s is a link or not what the cache puts there; it is never followed, so "
                "its entries are recomputed and not stored (remove it to cache them again)",
                path,
            )


def _check(stage: str, key: str) -> None:
    if stage not in STAGES:
        raise ValueError(f"work cache: unknown stage {stage!r}; use one of {', '.join(STAGES)}")
    if not _KEY.fullmatch(key):
        raise ValueError(f"work cache: key {key!r} is not a hex digest; make keys with semlink.workcache.digest")


def _read_plain(path: Path) -> bytes | None:
    """The bytes of a plain file, or None: absent, a link (never followed) or not a plain file."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _BINARY)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read()


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file at ``path`` (a leftover there, link or file, is removed, not written through)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _touch(path: Path) -> None:
    """Mark an entry just used (the entry itself, never what a link points at)."""
    with contextlib.suppress(OSError):  # evicted by another process meanwhile: nothing to mark
        if os.utime in os.supports_follow_symlinks:
            os.utime(path, follow_symlinks=False)
        elif not os.path.islink(path):
            os.utime(path)
