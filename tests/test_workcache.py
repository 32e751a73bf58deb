"""The work cache: identical results with it on or off, each piece of work done once, torn or
swapped entries recomputed, a bounded folder, concurrent writers, keys that follow what shapes a
value (links and entries bound to their keys: test_workcache_safety.py)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semlink.cli import main
from semlink.data.labelset import CITYSCAPES
from semlink.study.components import codec_factory, codec_key
from semlink.vision.segmenter import segmenter_identity
from semlink.workcache import MAGIC, WorkCache, digest, entries, evict, pack_array, unpack_array

SMALL: dict[str, Any] = {
    "name": "cached",
    "seed": 3,
    "data": {"source": "synthetic", "split": "val", "frames": 2, "size": [64, 128]},
    "codecs": [{"name": "jpeg", "quality": [20, 60]}, {"name": "ssm", "map_scale": 2}],
    "channel": {"model": "bernoulli", "loss": [0.0, 0.3]},
    "metrics": ["miou", "psnr", "delivery"],
    "transport": "inproc",
}


def run(out: Path, **changes: Any) -> dict[str, Any]:
    import semlink

    semlink.run({**SMALL, **changes}, out=out, report=False)
    return json.loads((out / "work.json").read_text())


def test_results_are_byte_identical_with_the_cache_off_on_and_warm(tmp_path: Path) -> None:
    off = run(tmp_path / "off", cache=False)
    cold = run(tmp_path / "cold", cache=str(tmp_path / "shared"))
    warm = run(tmp_path / "warm", cache=str(tmp_path / "shared"))
    texts = {(tmp_path / name / "results.csv").read_text() for name in ("off", "cold", "warm")}
    frames = {(tmp_path / name / "frames.jsonl").read_text() for name in ("off", "cold", "warm")}
    assert len(texts) == 1 and len(frames) == 1
    stages = ("segment-source", "encode", "decode", "segment", "score")
    assert all(warm["stages"][s]["computed"] == 0 and warm["stages"][s]["hits"] > 0 for s in stages)
    assert all(off["stages"][s]["hits"] == 0 for s in stages)
    assert sum(cold["stages"][s]["computed"] for s in stages) < sum(off["stages"][s]["computed"] for s in stages)
    assert off["cache"] is None and cold["cache"] == str(tmp_path / "shared")


def test_each_frame_is_encoded_once_per_codec_setting_and_segmented_once(tmp_path: Path) -> None:
    work = run(tmp_path / "r")
    points_per_setting, settings, frames = 2, 3, 2  # two loss levels; jpeg 20, jpeg 60, ssm
    assert work["stages"]["encode"] == {**work["stages"]["encode"], "computed": settings * frames}
    assert work["stages"]["encode"]["hits"] == settings * frames * (points_per_setting - 1)
    assert work["stages"]["segment-source"]["computed"] == frames  # only ssm needs the map; once per frame
    assert (tmp_path / "r" / "cache").is_dir()


def test_a_torn_entry_is_detected_deleted_and_recomputed(tmp_path: Path) -> None:
    cache = WorkCache(tmp_path)
    cache.write("decode", "ab" * 16, b"payload")
    path = cache.path("decode", "ab" * 16)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cache.read("decode", "ab" * 16) is None and cache.stats.torn == 1 and not path.exists()
    value = cache.get_or_compute("decode", "ab" * 16, lambda: b"again", bytes, bytes)
    assert value == b"again" and cache.read("decode", "ab" * 16) == b"again"
    path.write_bytes(path.read_bytes()[: len(MAGIC) + 5])  # cut short, as by a crash without rename
    assert cache.read("decode", "ab" * 16) is None and cache.stats.torn == 2


def test_entries_swapped_between_keys_are_recomputed_to_the_cold_results(tmp_path: Path) -> None:
    cold = run(tmp_path / "cold", cache=str(tmp_path / "shared"))
    swapped = 0
    for stage in ("encode", "decode", "score"):  # swap the files of two valid entries of each
        one, two = sorted(entry.path for entry in entries(tmp_path / "shared", (stage,)))[:2]
        data_one, data_two = Path(one).read_bytes(), Path(two).read_bytes()
        Path(one).write_bytes(data_two)
        Path(two).write_bytes(data_one)
        swapped += 2
    warm = run(tmp_path / "warm", cache=str(tmp_path / "shared"))
    for name in ("results.csv", "frames.jsonl"):
        assert (tmp_path / "warm" / name).read_bytes() == (tmp_path / "cold" / name).read_bytes()
    assert cold["torn"] == 0 and warm["torn"] == swapped
    assert all(warm["stages"][stage]["computed"] > 0 for stage in ("encode", "decode", "score"))


def test_the_folder_stays_within_its_bound_and_keeps_recent_entries(tmp_path: Path) -> None:
    cache = WorkCache(tmp_path, max_bytes=20_000)
    for number in range(60):
        cache.write("encode", digest(str(number)), bytes(1000))
    evict(tmp_path, 20_000)
    sizes = [p.stat().st_size for p in (tmp_path / "encode").rglob("*") if p.is_file()]
    assert sum(sizes) <= 20_000 and cache.stats.evicted > 0
    assert cache.read("encode", digest("59")) is not None  # the newest stays


def write_many(root: str, worker: int) -> None:
    cache = WorkCache(Path(root))
    for number in range(200):
        cache.write("segment", digest(str(number % 20)), f"value {number % 20}".encode() * 500)


def test_concurrent_writers_of_the_same_keys_leave_only_whole_entries(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=write_many, args=(str(tmp_path), n)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    cache = WorkCache(tmp_path)
    for number in range(20):
        assert cache.read("segment", digest(str(number))) == f"value {number}".encode() * 500
    assert cache.stats.torn == 0 and not list(tmp_path.rglob(".*.tmp"))


def test_keys_follow_the_settings_and_the_checkpoint(tmp_path: Path) -> None:
    jpeg20 = codec_key(codec_factory("jpeg", {"quality": 20}))
    assert jpeg20 == codec_key(codec_factory("jpeg", {"quality": 20}))
    assert jpeg20 != codec_key(codec_factory("jpeg", {"quality": 60}))
    assert jpeg20 != codec_key(codec_factory("webp", {"quality": 20}))
    checkpoint = tmp_path / "seg.pt"
    checkpoint.write_bytes(b"one")
    first = segmenter_identity(CITYSCAPES, str(checkpoint), "cpu")
    checkpoint.write_bytes(b"two!")
    assert segmenter_identity(CITYSCAPES, str(checkpoint), "cpu") != first
    assert "semlink=" in first and "torch=" in first


def test_arrays_round_trip_writeable() -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    back = unpack_array(pack_array(array))
    assert np.array_equal(back, array) and back.dtype == np.uint8 and back.flags.writeable


def test_cache_info_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(tmp_path / "r")
    assert main(["cache", "info", str(tmp_path / "r")]) == 0
    info = capsys.readouterr().out
    assert "encode" in info and "total" in info and str(tmp_path / "r" / "cache") in info
    assert main(["cache", "clear", str(tmp_path / "r" / "cache")]) == 0
    assert "entries deleted" in capsys.readouterr().out
    assert not [p for p in (tmp_path / "r" / "cache").rglob("*") if p.is_file() and p.name != "SEMLINK-CACHE"]
    assert main(["cache", "clear", str(tmp_path)]) == 1
    assert "is not a work cache" in capsys.readouterr().err


def test_the_frame_batch_changes_no_bitstream(tmp_path: Path) -> None:
    import csv

    data = {**SMALL["data"], "frames": 3}
    run(tmp_path / "one", cache=False, batch=1, data=data)
    run(tmp_path / "two", cache=False, batch=2, data=data)  # batches of 2 and 1: a partial one too
    rows = {}
    for name in ("one", "two"):
        with (tmp_path / name / "results.csv").open(newline="") as handle:
            rows[name] = list(csv.DictReader(handle))
    assert len(rows["one"]) == len(rows["two"]) == 6
    for one, two in zip(rows["one"], rows["two"], strict=True):
        for column in ("bpp", "bpp_wire", "packets_sent", "packets_lost", "frames_concealed"):
            assert one[column] == two[column], column
        if one["codec"] == "jpeg":  # a classic codec decodes the same in a batch
            assert one == two
        else:  # the semantic decoder's batched pass may round a grey level differently
            assert abs(float(one["psnr"]) - float(two["psnr"])) < 0.05


def test_decode_batches_give_the_same_results_with_the_cache_off_cold_and_warm(tmp_path: Path) -> None:
    # batches of 3 over 4 frames: a padded last batch; points whose frames are partly cached
    # still decode every missing frame in a batch of exactly 3
    data = {**SMALL["data"], "frames": 4}
    off = run(tmp_path / "off", cache=False, batch=3, data=data)
    cold = run(tmp_path / "cold", cache=str(tmp_path / "shared"), batch=3, data=data)
    warm = run(tmp_path / "warm", cache=str(tmp_path / "shared"), batch=3, data=data)
    for name in ("results.csv", "frames.jsonl"):
        assert len({(tmp_path / run_name / name).read_bytes() for run_name in ("off", "cold", "warm")}) == 1
    assert warm["stages"]["decode"]["computed"] == 0 and cold["stages"]["decode"]["computed"] > 0
    assert off["stages"]["decode"]["computed"] >= cold["stages"]["decode"]["computed"]
    one = run(tmp_path / "one", cache=False, batch=1, data=data)
    rows = {(tmp_path / name / "results.csv").read_text().splitlines()[i] for name in ("one", "off") for i in (1, 2)}
    assert len(rows) == 2  # the jpeg rows: a classic codec decodes the same in a batch
    assert one["stages"]["decode"]["computed"] == off["stages"]["decode"]["computed"]
