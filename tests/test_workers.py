"""``--workers N``: units of consecutive points, rows merged in sweep order, the same files as one
worker, and a stopped run's finished units merged on the next run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from semlink.executors.workers import Merger
from semlink.study.units import units_of

SMALL: dict[str, Any] = {
    "name": "workers",
    "seed": 5,
    "data": {"source": "synthetic", "split": "val", "frames": 2, "size": [64, 128]},
    "codecs": [{"name": "jpeg", "quality": [20, 60]}],
    "channel": {"model": "bernoulli", "loss": [0.0, 0.3]},
    "metrics": ["miou", "psnr", "delivery"],
    "repeats": 2,
    "transport": "inproc",
}


@pytest.mark.parametrize(
    ("todo", "workers", "count"),
    [
        (list(range(24)), 2, 2),
        (list(range(48)), 2, 6),
        (list(range(5)), 4, 3),
        ([3, 9, 10], 8, 3),
        ([7], 3, 1),
        ([], 2, 0),
    ],
)
def test_units_are_consecutive_cover_every_point_and_number_one_to_three_per_worker(
    todo: list[int], workers: int, count: int
) -> None:
    units = units_of(todo, workers, "t")
    assert [p for unit in units for p in unit.points] == sorted(todo)
    assert len(units) == count and len({u.name for u in units}) == len(units)
    sizes = [len(unit.points) for unit in units] or [0]
    assert max(sizes) - min(sizes) <= max(sizes) // 2 + 1


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())


def test_rows_are_merged_in_sweep_order_once_their_predecessors_are_in(tmp_path: Path) -> None:
    header = ["codec", "miou", "point_key"]
    merger = Merger(tmp_path, ["k0", "k1", "k2"], header)
    unit_b = tmp_path / ".workers" / "b"
    write(unit_b / "results.csv", "codec,miou,point_key\r\njpeg,0.5,k1\r\njpeg,0.6,k2\r\njpeg,0.7,")  # torn tail
    write(unit_b / "frames.jsonl", '{"point_key": "k1", "frame": 0}\n{"point_key": "k2", "frame": 0}\n')
    assert merger.merge([unit_b]) == 0 and not (tmp_path / "results.csv").exists()  # k0 missing: wait
    unit_a = tmp_path / ".workers" / "a"
    write(unit_a / "results.csv", "codec,miou,point_key\r\njpeg,0.4,k0\r\n")
    write(unit_a / "frames.jsonl", '{"point_key": "k0", "frame": 0}\n')
    assert merger.merge([unit_a, unit_b]) == 3 and merger.merge([unit_a, unit_b]) == 0
    assert (tmp_path / "results.csv").read_bytes() == (
        b"codec,miou,point_key\r\njpeg,0.4,k0\r\njpeg,0.5,k1\r\njpeg,0.6,k2\r\n"
    )
    frames = (tmp_path / "frames.jsonl").read_text().splitlines()
    assert [line.split('"')[3] for line in frames] == ["k0", "k1", "k2"]


def test_two_workers_write_the_files_one_writes(tmp_path: Path) -> None:
    import semlink

    one = semlink.run(SMALL, out=tmp_path / "one", report=False)
    two = semlink.run(SMALL, out=tmp_path / "two", report=False, workers=2)
    assert two.ran == one.ran == 4
    for name in ("results.csv", "frames.jsonl"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert not (tmp_path / "two" / ".workers").exists()


def test_a_stopped_runs_finished_units_are_merged_and_only_the_rest_runs(tmp_path: Path) -> None:
    import semlink

    one = semlink.run(SMALL, out=tmp_path / "one", report=False)
    out = tmp_path / "two"
    semlink.run(SMALL, out=tmp_path / "scenario-only", report=False)  # any run: its scenario.yaml is the copy
    scenario = tmp_path / "scenario-only" / "scenario.yaml"
    unit = out / ".workers" / "old-001"  # what a stopped run leaves: a unit that finished points 2 and 3
    command = [sys.executable, "-m", "semlink.cli", "run", str(scenario), "--out", str(unit), "--points", "2,3"]
    done = subprocess.run([*command, "--no-report", "-q"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    again = semlink.run(SMALL, out=out, report=False, workers=2)
    assert again.ran == 2  # points 0 and 1
    assert semlink.run(SMALL, out=out, report=False, workers=2).ran == 0  # nothing left: nothing runs
    for name in ("results.csv", "frames.jsonl"):
        assert (out / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert [row["point_key"] for row in again.rows] == [row["point_key"] for row in one.rows]
