"""Vehicles sharing a cell over the real three-node link: the same rows as in one process (and, with
``-m slow``, as with two workers), ``vehicles.csv`` included, and a one-line refusal before anything loads."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

SCENARIO = """
name: cell-link
seed: 9
data: {source: synthetic, split: val, frames: 3, size: [64, 128]}
codecs: [{name: jpeg, quality: 70}]
vehicles: {count: [2, 3], spacing_m: 30}
channel: {model: cell, scheduler: [round_robin, semantic], bandwidth_mhz: 5, prbs: 1}
link: {mtu: 400, fps: 10, deadline_ms: 100}
segmenter: tests.fakes:brightness_segmenter
metrics: [miou]
device: cpu
"""


def semlink(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line in a child process (from the repository root, for ``tests.fakes``)."""
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "semlink.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=root, check=False)


@pytest.mark.parametrize(
    "flags",
    [["--transport", "zmq"], pytest.param(["--transport", "inproc", "--workers", "2"], marks=pytest.mark.slow)],
    ids=["zmq", "workers"],
)
def test_a_cell_gives_the_rows_of_one_process(flags: list[str], tmp_path: Path) -> None:
    path = tmp_path / "cell.yaml"
    path.write_text(SCENARIO)
    outputs = {}
    for name, how in (("inproc", ["--transport", "inproc"]), ("other", flags)):
        out = tmp_path / name
        result = semlink("run", str(path), "--out", str(out), "--no-report", *how)
        assert result.returncode == 0, result.stderr
        outputs[name] = ((out / "results.csv").read_text(), (out / "vehicles.csv").read_text())
    assert outputs["other"] == outputs["inproc"]
    results, vehicles = outputs["inproc"]
    assert results.count("\n") == 1 + 4
    assert vehicles.count("\n") == 1 + 2 * (2 + 3)


def test_a_cell_without_vehicles_is_refused_in_one_line_at_once(tmp_path: Path) -> None:
    path = tmp_path / "cell.yaml"
    path.write_text(SCENARIO.replace("vehicles: {count: [2, 3], spacing_m: 30}\n", ""))
    started = time.monotonic()
    result = semlink("run", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode != 0
    assert "add a vehicles: section" in result.stderr and result.stderr.strip().count("\n") == 0
    assert time.monotonic() - started < 60  # bounded: refused before the study is built
