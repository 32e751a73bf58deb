"""The work cache's keys: hashes of everything that shapes a value (inputs, component identity,
code versions), never of time."""

from __future__ import annotations

import hashlib

import numpy as np

from semlink.identity import environment, file_hash

__all__ = ["array_key", "digest", "environment", "file_hash"]


def digest(*parts: bytes | str) -> str:
    """A 32-hex-digit key of ``parts`` (each length-prefixed, so no two part lists collide)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def array_key(array: np.ndarray) -> str:
    """Key of an array's content (shape, dtype and bytes)."""
    return digest(str(array.shape), str(array.dtype), np.ascontiguousarray(array).tobytes())
