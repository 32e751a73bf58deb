"""The content-addressed work cache: each piece of a study's work (segmenting a frame, encoding
it, decoding what arrived, segmenting the reconstruction) done once, kept on disk, reused by
every point, run and worker that asks for the same thing.

An entry's key is a hash of everything that shapes its value: the input bytes (the frame, the
map, the chunks that arrived), the component's identity (codec and settings, checkpoint hashes)
and the versions of the code (:func:`environment`); never of time. Entries are files
``ROOT/<stage>/<k[:2]>/<key>``, each ``MAGIC + blake2b(payload) + payload``, written to a temporary
name and renamed into place, so concurrent writers (nodes, workers, machines sharing the folder)
never see half an entry; an entry whose digest does not match (a torn or damaged file) is deleted
and recomputed, never used. The folder is bounded: past ``max_bytes`` the least recently used
entries go. Written here because the caches on PyPI (diskcache, joblib.Memory) pickle their
values, and what lands in a shared folder must not be pickled.

Values are msgpack: arrays as ``{shape, dtype, zlib bytes}``, bitstreams as their streams.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgpack
import numpy as np

LOG = logging.getLogger(__name__)
MAGIC = b"SLCACHE1"
DIGEST = 16
MARKER = "SEMLINK-CACHE"
"""A file in every cache root: `semlink cache clear` deletes only folders that have it."""
STAGES = ("segment-source", "encode", "decode", "segment", "score")
"""The cached stages, in the order a frame meets them (``score``: a frame's metric values)."""
DEFAULT_MAX_BYTES = 2 << 30
WORK_FILE = "work.json"
"""What a run's stages did, written into its folder by ``semlink run``."""
STAGE_ORDER = ("segment-source", "encode", "channel", "decode", "segment", "score")
"""Every stage a frame meets, in order (``channel`` and ``score`` are timed, not cached)."""
T = TypeVar("T")


def environment() -> str:
    """The versions of the code that shape cached values: semlink and the libraries that compute them."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("semlink", "torch", "numpy", "pillow", "av"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=none")
    return " ".join(parts)


def digest(*parts: bytes | str) -> str:
    """A 32-hex-digit key of ``parts`` (each length-prefixed, so no two part lists collide)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file (a checkpoint), remembered per path, size and modification time."""
    stat = Path(path).stat()
    key = (str(Path(path).absolute()), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _FILE_HASHES[key]


def array_key(array: np.ndarray) -> str:
    """Key of an array's content (shape, dtype and bytes)."""
    return digest(str(array.shape), str(array.dtype), np.ascontiguousarray(array).tobytes())


def pack_array(array: np.ndarray) -> bytes:
    """An array as msgpack bytes (zlib level 1: fast, and maps and frames shrink well)."""
    data = zlib.compress(np.ascontiguousarray(array).tobytes(), 1)
    return msgpack.packb({"shape": list(array.shape), "dtype": str(array.dtype), "data": data})


def unpack_array(payload: bytes) -> np.ndarray:
    """The array of :func:`pack_array`."""
    raw = msgpack.unpackb(payload)
    data = bytearray(zlib.decompress(raw["data"]))  # a bytearray: the array is writeable, as computed ones are
    return np.frombuffer(data, dtype=np.dtype(raw["dtype"])).reshape(raw["shape"])


@dataclass
class StageWork:
    """What one stage did: values computed (misses), values found (hits), seconds computing."""

    computed: int = 0
    hits: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {"computed": self.computed, "hits": self.hits, "seconds": round(self.seconds, 3)}


@dataclass
class WorkStats:
    """Per-stage counts and times of one process (``channel`` and ``score`` are timed, not cached)."""

    stages: dict[str, StageWork] = field(default_factory=dict)
    torn: int = 0
    evicted: int = 0

    def stage(self, name: str) -> StageWork:
        """The counters of stage ``name`` (created on first use)."""
        return self.stages.setdefault(name, StageWork())

    def timed(self, name: str) -> _Timer:
        """``with stats.timed("channel"): ...`` adds the block's time to the stage."""
        return _Timer(self.stage(name))

    def hit_counts(self) -> tuple[int, int]:
        """``(hits, lookups)`` over the cached stages."""
        hits = sum(w.hits for name, w in self.stages.items() if name in STAGES)
        return hits, hits + sum(w.computed for name, w in self.stages.items() if name in STAGES)

    def merge(self, other: dict[str, Any]) -> None:
        """Add the counts and times of another process's :meth:`to_dict`."""
        for name, done in other.get("stages", {}).items():
            work = self.stage(name)
            work.computed += int(done["computed"])
            work.hits += int(done["hits"])
            work.seconds += float(done["seconds"])
        self.torn += int(other.get("torn", 0))
        self.evicted += int(other.get("evicted", 0))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the nodes report them as one JSON line)."""
        return {
            "stages": {name: work.to_dict() for name, work in self.stages.items()},
            "torn": self.torn,
            "evicted": self.evicted,
        }


class _Timer:
    def __init__(self, work: StageWork) -> None:
        self.work = work

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.work.seconds += time.perf_counter() - self.started


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
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
            (root / MARKER).touch()

    @property
    def enabled(self) -> bool:
        """Whether values are kept (a folder was given)."""
        return self.root is not None

    def path(self, stage: str, key: str) -> Path:
        """Where the entry of ``key`` in ``stage`` lives."""
        assert self.root is not None
        return self.root / stage / key[:2] / key

    def read(self, stage: str, key: str) -> bytes | None:
        """The payload of an intact entry, or None (absent, torn: a torn one is deleted)."""
        if self.root is None:
            return None
        path = self.path(stage, key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        payload = data[len(MAGIC) + DIGEST :]
        if not data.startswith(MAGIC) or data[len(MAGIC) : len(MAGIC) + DIGEST] != _checksum(payload):
            self.stats.torn += 1
            LOG.warning("work cache: %s is damaged; recomputing it", path)
            path.unlink(missing_ok=True)
            return None
        os.utime(path)  # most recently used: eviction keeps it
        return payload

    def write(self, stage: str, key: str, payload: bytes) -> None:
        """Store an entry atomically (a temporary file renamed into place)."""
        if self.root is None:
            return
        path = self.path(stage, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{key}.{os.getpid()}.tmp")
        temporary.write_bytes(MAGIC + _checksum(payload) + payload)
        os.replace(temporary, path)
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


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=DIGEST).digest()


def entries(root: Path, stages: tuple[str, ...] = STAGES) -> Iterator[os.DirEntry[str]]:
    """Every entry file of the ``stages`` of a cache folder (temporary files left out)."""
    for stage in stages:
        folder = root / stage
        if not folder.is_dir():
            continue
        for shard in os.scandir(folder):
            if shard.is_dir():
                yield from (e for e in os.scandir(shard.path) if not e.name.startswith("."))


def evict(root: Path, max_bytes: int) -> int:
    """Delete the least recently used entries until the folder holds at most 80 % of ``max_bytes``;
    returns how many went (another process deleting the same ones is fine)."""
    found = []
    for entry in entries(root):
        try:
            stat = entry.stat()
        except FileNotFoundError:
            continue
        found.append((stat.st_mtime, stat.st_size, entry.path))
    total = sum(size for _, size, _ in found)
    if total <= max_bytes:
        return 0
    removed = 0
    for _, size, path in sorted(found):
        if total <= 0.8 * max_bytes:
            break
        Path(path).unlink(missing_ok=True)
        total -= size
        removed += 1
    LOG.info("work cache: evicted %d entries from %s", removed, root)
    return removed


def describe(root: Path) -> dict[str, tuple[int, int]]:
    """``{stage: (entries, bytes)}`` of a cache folder."""
    out = {}
    for stage in STAGES:
        sizes = [e.stat().st_size for e in entries(root, (stage,))]
        out[stage] = (len(sizes), sum(sizes))
    return out


def clear(root: Path) -> int:
    """Delete every entry of a cache folder (the folder must carry the marker); returns how many."""
    if not (root / MARKER).is_file():
        raise ValueError(f"{root} is not a semlink work cache (it has no {MARKER} file); give the cache's folder")
    removed = 0
    for entry in list(entries(root)):
        Path(entry.path).unlink(missing_ok=True)
        removed += 1
    return removed


def work_lines(work: dict[str, Any]) -> list[str]:
    """A run's work, one line per stage in the order a frame meets them:
    ``encode: 120 computed, 360 from the cache, 10.2 s``."""
    stages: dict[str, dict[str, Any]] = work.get("stages", {})
    lines = []
    for name in STAGE_ORDER:
        if name in stages:
            done = stages[name]
            counts = f"{done['computed']} computed, {done['hits']} from the cache, " if name in STAGES else ""
            lines.append(f"{name}: {counts}{float(done['seconds']):.1f} s")
    return lines
