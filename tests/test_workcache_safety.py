"""The work cache stays inside its folder and binds every entry to its key: symbolic links are
never followed (clear and eviction leave what they point at intact, a get through one
recomputes), entries swapped, moved or copied between keys are recomputed, entries of the older
format are misses, and the value formats round-trip."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import msgpack
import numpy as np
import pytest

from semlink.cli import main
from semlink.codecs.base import Bitstream, Stream
from semlink.workcache import (
    WorkCache,
    clear,
    digest,
    entry_bytes,
    evict,
    pack_bitstream,
    pack_values,
    remove_entry,
    unpack_bitstream,
    unpack_values,
)

KEY = "ab" + "0" * 30


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with a file's bytes (None for a folder)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def victims(base: Path) -> Path:
    """Files and folders outside the cache that links inside it point at; the folders hold valid
    entries of the keys the links stand for, so following a link would find a hit."""
    outside = base / "outside"
    (outside / "shard").mkdir(parents=True)
    (outside / "shard" / KEY).write_bytes(entry_bytes("decode", KEY, b"stale"))
    (outside / "shard" / "notes.txt").write_bytes(b"precious")
    (outside / "stage" / "ab").mkdir(parents=True)
    (outside / "stage" / "ab" / KEY).write_bytes(entry_bytes("segment", KEY, b"stale"))
    (outside / "stage" / "ab" / "sub").mkdir()
    (outside / "stage" / "ab" / "sub" / "deep.txt").write_bytes(b"precious")
    (outside / "file").write_bytes(entry_bytes("encode", KEY, b"stale"))
    (outside / "folder").mkdir()
    (outside / "folder" / "inside.txt").write_bytes(b"precious")
    return outside


def linked_cache(base: Path) -> tuple[Path, Path]:
    """A cache with real entries and links of each kind: a shard, a stage and two entries."""
    outside, root = victims(base), base / "cache"
    cache = WorkCache(root)
    for number in range(5):
        cache.write("decode", digest(str(number)), bytes(100))
    (root / "decode" / "ab").symlink_to(outside / "shard")
    (root / "segment").symlink_to(outside / "stage")
    (root / "encode" / "ab").mkdir(parents=True)
    (root / "encode" / "ab" / KEY).symlink_to(outside / "file")
    (root / "encode" / "ab" / ("ab" + "1" * 30)).symlink_to(outside / "folder")
    return root, outside


def test_clear_deletes_the_entries_and_leaves_what_links_point_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, outside = linked_cache(tmp_path)
    before = snapshot(outside)
    assert main(["cache", "clear", str(root)]) == 0
    out = capsys.readouterr().out
    assert "5 entries deleted" in out and "4 symbolic links left alone" in out
    assert snapshot(outside) == before
    assert not [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p.name != "SEMLINK-CACHE"]
    assert (root / "segment").is_symlink() and (root / "encode" / "ab" / KEY).is_symlink()  # only named
    assert main(["cache", "info", str(root)]) == 0
    assert "total                  0 entries" in capsys.readouterr().out


def test_eviction_leaves_what_links_point_at(tmp_path: Path) -> None:
    root, outside = linked_cache(tmp_path)
    before = snapshot(outside)
    assert evict(root, 0) == 5
    cache = WorkCache(root, max_bytes=2_000)
    for number in range(50):  # evicts as it writes
        cache.write("score", digest(str(number)), bytes(500))
    assert cache.stats.evicted > 0
    assert clear(root) > 0 and snapshot(outside) == before


def test_a_deletion_is_refused_outside_the_folder_and_for_anything_but_a_plain_file(tmp_path: Path) -> None:
    root, outside = linked_cache(tmp_path)
    inside = root.resolve()
    assert not remove_entry(inside, root / "decode" / "ab" / KEY)  # through a linked shard
    assert not remove_entry(inside, root / "segment" / "ab" / KEY)  # through a linked stage
    assert not remove_entry(inside, outside / "file")
    assert not remove_entry(inside, root / "encode" / "ab" / KEY)  # a link is not an entry
    assert (outside / "shard" / KEY).exists() and (outside / "stage" / "ab" / KEY).exists()
    assert (outside / "file").exists() and (root / "encode" / "ab" / KEY).is_symlink()
    assert remove_entry(inside, WorkCache(root).path("decode", digest("0")))


@pytest.mark.parametrize("stage", ["decode", "segment", "encode"])  # a linked shard, stage, entry
def test_a_get_through_a_link_recomputes_and_writes_nothing_outside(tmp_path: Path, stage: str) -> None:
    root, outside = linked_cache(tmp_path)
    before = snapshot(outside)
    cache = WorkCache(root)
    calls: list[int] = []

    def compute() -> bytes:
        calls.append(1)
        return b"fresh"

    def get() -> bytes:
        return cache.get_or_compute(stage, KEY, compute, bytes, bytes)

    assert get() == b"fresh" and get() == b"fresh"
    assert snapshot(outside) == before and cache.stats.torn == 0
    if stage == "encode":  # a linked entry is replaced by the real one: the second get is a hit
        assert len(calls) == 1 and not cache.path(stage, KEY).is_symlink()
    else:  # a linked folder is never written through: nothing is stored
        assert len(calls) == 2 and cache.stats.stage(stage).hits == 0


def test_keys_that_could_leave_the_folder_are_refused(tmp_path: Path) -> None:
    cache = WorkCache(tmp_path)
    with pytest.raises(ValueError, match="not a hex digest"):
        cache.read("decode", "../../etc")
    with pytest.raises(ValueError, match="unknown stage"):
        cache.write("../x", KEY, b"value")


def two_entries(root: Path) -> tuple[WorkCache, str, str]:
    cache = WorkCache(root)
    first, second = digest("first"), digest("second")
    cache.write("score", first, b"value of first")
    cache.write("score", second, b"value of second")
    return cache, first, second


def recompute(cache: WorkCache, key: str) -> bytes:
    return cache.get_or_compute("score", key, lambda: f"recomputed {key}".encode(), bytes, bytes)


def test_swapped_entries_are_detected_deleted_and_recomputed(tmp_path: Path) -> None:
    cache, first, second = two_entries(tmp_path)
    one, two = cache.path("score", first), cache.path("score", second)
    data_one, data_two = one.read_bytes(), two.read_bytes()
    one.write_bytes(data_two)
    two.write_bytes(data_one)
    assert cache.read("score", first) is None and cache.read("score", second) is None
    assert cache.stats.torn == 2 and not one.exists() and not two.exists()
    assert recompute(cache, first) == f"recomputed {first}".encode()
    assert cache.stats.stage("score").computed == 1


@pytest.mark.parametrize("how", [os.replace, lambda a, b: Path(b).write_bytes(Path(a).read_bytes())])
def test_an_entry_moved_or_copied_under_another_key_is_recomputed(
    tmp_path: Path, how: Callable[[Path, Path], object]
) -> None:
    cache = WorkCache(tmp_path)
    first, other = digest("first"), digest("other")
    cache.write("score", first, b"value of first")
    cache.path("score", other).parent.mkdir(parents=True, exist_ok=True)
    how(cache.path("score", first), cache.path("score", other))
    assert recompute(cache, other) == f"recomputed {other}".encode() and cache.stats.torn == 1
    assert cache.read("score", other) == f"recomputed {other}".encode()


def test_an_entry_moved_to_another_stage_is_recomputed(tmp_path: Path) -> None:
    cache = WorkCache(tmp_path)
    cache.write("segment", KEY, b"a map")
    cache.path("decode", KEY).parent.mkdir(parents=True)
    cache.path("decode", KEY).write_bytes(cache.path("segment", KEY).read_bytes())
    assert cache.read("decode", KEY) is None and cache.stats.torn == 1
    assert cache.read("segment", KEY) == b"a map"


def test_entries_of_the_older_format_are_plain_misses(tmp_path: Path) -> None:
    cache = WorkCache(tmp_path)
    old = b"SLCACHE1" + hashlib.blake2b(b"old value", digest_size=16).digest() + b"old value"
    cache.path("decode", KEY).parent.mkdir(parents=True)
    cache.path("decode", KEY).write_bytes(old)
    assert cache.read("decode", KEY) is None and cache.stats.torn == 0
    assert cache.get_or_compute("decode", KEY, lambda: b"new value", bytes, bytes) == b"new value"
    assert cache.read("decode", KEY) == b"new value"


def test_bitstreams_and_values_keep_their_bytes_and_round_trip() -> None:
    bitstream = Bitstream(
        (Stream("image", 0, (b"\x00\x01", b"abc")), Stream("ssm", 1, ())), (64, 128), {"quality": 20.0, "scale": 2}
    )
    packed = pack_bitstream(bitstream)
    assert packed.hex() == (
        "83a573686170659240cc80a873657474696e677382a77175616c697479cb4034000000000000a57363616c6502a773747265"
        "616d739293a5696d6167650092c4020001c40361626393a373736d0190"
    )
    assert unpack_bitstream(packed) == bitstream
    values = [0.5, None, {"a": [1, 2]}, "x", 3, np.float64(0.25).item()]
    assert pack_values(values) == msgpack.packb(values) and unpack_values(pack_values(values)) == values
