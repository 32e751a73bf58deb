"""Every shipped scenario runs for two frames, and what it sweeps changes its outcome (its plot shows something)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PRESETS = sorted(path.stem for path in SCENARIOS.glob("*.yaml"))
SWEPT = {
    "quickstart": "loss",
    "link-study": "link.mtu",
    "semantic": "loss",
    "semantic-camvid": "loss",
    "link-level": "snr_db",
    "cell-edge": "snr_db",
    "v2x-urban": "snr_db",
    "v2x-highway": "snr_db",
    "v2x-cell": "vehicles.count",
}
"""The axis whose values must change each preset's outcome."""


def test_every_preset_says_what_it_sweeps() -> None:
    assert set(SWEPT) == set(PRESETS)


def run_preset(name: str, out: Path, transport: str = "inproc") -> list[dict[str, str]]:
    """Run a preset for two frames (in one process: the transports give identical rows, a test of
    their own) and return its rows."""
    command = [sys.executable, "-m", "semlink.cli", "run", str(SCENARIOS / f"{name}.yaml"), "--frames", "2",
               "--out", str(out), "-q", "--transport", transport]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr
    assert (out / "report.html").exists() and (out / "miou_vs_bpp.png").exists()
    with (out / "results.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def outcome(row: dict[str, str]) -> tuple[str, ...]:
    """What a point delivered: its task score, its packet fates and its bits on the wire."""
    return tuple(row.get(column, "") for column in ("miou", "packets_lost", "frames_concealed", "bpp_wire"))


def check_sweep_matters(name: str, rows: list[dict[str, str]]) -> None:
    axis = SWEPT[name]
    assert len({row[axis] for row in rows}) > 1, f"{name} does not sweep {axis}"
    by_codec: dict[str, set[tuple[str, ...]]] = {}
    for row in rows:
        by_codec.setdefault(row["codec"], set()).add(outcome(row))
    assert any(len(outcomes) > 1 for outcomes in by_codec.values()), f"{name}: {axis} changes nothing"


@pytest.mark.net
@pytest.mark.slow  # 30 s (link-level) to many minutes each: out of CI's ten minutes; CI runs the quickstart itself
@pytest.mark.parametrize("name", PRESETS)
def test_a_preset_runs_and_its_axis_changes_the_outcome(name: str, tmp_path: Path) -> None:
    check_sweep_matters(name, run_preset(name, tmp_path / name))
