"""What identifies a component's output besides its inputs: its checkpoint file's hash and the
versions of the code that compute it. A leaf: the codecs, the segmenter and the work cache use it."""

from __future__ import annotations

import hashlib
from pathlib import Path


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


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file (a checkpoint), remembered per path, size and modification time."""
    stat = Path(path).stat()
    key = (str(Path(path).absolute()), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _FILE_HASHES[key]
