"""The content-addressed work cache: each piece of a study's work (segmenting a frame, encoding
it, decoding what arrived, segmenting the reconstruction, scoring it) done once, kept on disk,
reused by every point, run and worker that asks for the same thing.

An entry's key is a hash of everything that shapes its value: the input bytes (the frame, the
map, the chunks that arrived), the component's identity (codec and settings, checkpoint hashes)
and the versions of the code (:func:`environment`); never of time (:mod:`.keys`). Entries are
files ``ROOT/<stage>/<k[:2]>/<key>``, each ``MAGIC + blake2b(stage, key, payload) + payload``,
so every entry is bound to its key: a torn or damaged entry, or one swapped, moved or copied under
another key's name, is detected, deleted and recomputed, never used (:mod:`.store`). Entries are
written to a temporary name and renamed into place, so concurrent writers (nodes, workers,
machines sharing the folder) never see half an entry. Symbolic links inside the folder are never
followed: nothing is read, written, listed or deleted through one, and only plain files inside
the root are ever deleted (:mod:`.folder`). The folder is bounded: past ``max_bytes`` the least
recently used entries go. Written here because the caches on PyPI (diskcache, joblib.Memory)
pickle their values, and what lands in a shared folder must not be pickled.

Values are msgpack, their formats all in :mod:`.values`: arrays as ``{shape, dtype, zlib bytes}``,
bitstreams as their streams, a frame's metric values as a list.
"""

from semlink.workcache.folder import (
    DEFAULT_MAX_BYTES,
    MARKER,
    STAGES,
    clear,
    describe,
    entries,
    evict,
    links,
    remove_entry,
)
from semlink.workcache.keys import array_key, digest, environment, file_hash
from semlink.workcache.stats import STAGE_ORDER, WORK_FILE, StageWork, WorkStats, work_lines
from semlink.workcache.store import DIGEST, MAGIC, WorkCache, entry_bytes, entry_check
from semlink.workcache.values import (
    pack_array,
    pack_bitstream,
    pack_values,
    unpack_array,
    unpack_bitstream,
    unpack_values,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DIGEST",
    "MAGIC",
    "MARKER",
    "STAGES",
    "STAGE_ORDER",
    "WORK_FILE",
    "StageWork",
    "WorkCache",
    "WorkStats",
    "array_key",
    "clear",
    "describe",
    "digest",
    "entries",
    "entry_bytes",
    "entry_check",
    "environment",
    "evict",
    "file_hash",
    "links",
    "pack_array",
    "pack_bitstream",
    "pack_values",
    "remove_entry",
    "unpack_array",
    "unpack_bitstream",
    "unpack_values",
    "work_lines",
]
