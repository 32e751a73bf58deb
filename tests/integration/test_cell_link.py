"""Vehicles sharing a cell over the real three-node link: the same rows as in one process (and, with
``-m slow``, as with two workers), ``vehicles.csv`` included, and a one-line refusal before anything loads."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ports import free_port

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


@pytest.mark.slow
def test_the_compose_vehicles_profile_as_plain_processes_gives_the_rows_of_one_process(tmp_path: Path) -> None:
    """docker-compose.yml's ``vehicles`` profile (receiver-v2x, channel-v2x and two replicas of
    ``vehicle``) run as plain processes on loopback, each replica its share (``--share`` as the
    replica index gives it): the rows of the same scenario in one process."""
    import os

    import yaml

    from semlink.wire.packets import new_run_id

    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "cell.yaml"
    path.write_text(
        SCENARIO.replace(
            "vehicles: {count: [2, 3], spacing_m: 30}", "vehicles: {count: [2, 3], spacing_m: 30, per_process: 2}"
        )
    )
    reference = tmp_path / "inproc"
    assert semlink("run", str(path), "--out", str(reference), "--no-report", "--transport", "inproc").returncode == 0
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    p1, p2 = free_port(), free_port()
    rx, ch = f"tcp://127.0.0.1:{p2}", f"tcp://127.0.0.1:{p1}"
    here = {
        "tcp://0.0.0.0:5622": rx,
        "tcp://receiver-v2x:5622": rx,
        "tcp://0.0.0.0:5621": ch,
        "tcp://channel-v2x:5621": ch,
    }

    def command(service: str, share: str = "") -> list[str]:
        words = [str(path) if word.startswith("${SEMLINK_V2X") else word for word in services[service]["command"]]
        words = [
            w.replace("${SEMLINK_PER_PROCESS:-8}", "2").replace("/results", str(tmp_path / "compose")) for w in words
        ]
        for old, new in here.items():
            words = [w.replace(old, new) for w in words]
        words = [share if w == "auto" else w for w in words]
        return [sys.executable, "-m", "semlink.cli", *[w for w in words if w != "--report"]]

    environment = {**os.environ, "SEMLINK_RUN_ID": str(new_run_id())}
    logs = [open(tmp_path / f"{name}.log", "w") for name in ("rx", "ch", "v0", "v1")]  # noqa: SIM115
    commands = [command("receiver-v2x"), command("channel-v2x"), command("vehicle", "0"), command("vehicle", "1")]
    nodes = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=log, env=environment, cwd=root)
             for c, log in zip(commands, logs, strict=True)]  # fmt: skip
    try:
        codes = [node.wait(timeout=300) for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
        for log in logs:
            log.close()
    assert codes == [0, 0, 0, 0], [(tmp_path / f"{n}.log").read_text()[-800:] for n in ("rx", "ch", "v0", "v1")]
    for name in ("results.csv", "vehicles.csv"):
        assert (tmp_path / "compose" / name).read_text() == (reference / name).read_text(), name
