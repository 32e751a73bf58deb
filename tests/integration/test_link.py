"""The three nodes over ZeroMQ on loopback: same numbers as in-process, garbage, timeouts, no orphans."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from semlink.sim.plans import RUN_ID_ENV
from semlink.wire import RUN_IDS, End, encode_message

pytestmark = pytest.mark.net

SCENARIO = """
name: it
seed: 11
data: {{source: synthetic, split: val, frames: 4, size: [64, 128]}}
codecs:
  - {{name: jpeg, target_bpp: [0.5]}}
  - {{name: identity}}
channel: {{model: gilbert_elliott, loss: [0.0, 0.3], burst: 2}}
link: {{mtu: 1200, fps: 10, deadline_ms: 100}}
segmenter: tests.fakes:brightness_segmenter
device: cpu
network:
  channel_bind: tcp://127.0.0.1:{p1}
  channel_connect: tcp://127.0.0.1:{p1}
  receiver_bind: tcp://127.0.0.1:{p2}
  receiver_connect: tcp://127.0.0.1:{p2}
  peer_timeout_s: {timeout}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scenario(tmp_path: Path, timeout: float = 30.0) -> tuple[Path, int, int]:
    p1, p2 = free_port(), free_port()
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(p1=p1, p2=p2, timeout=timeout))
    return path, p1, p2


def semlink(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "semlink.cli", *args], capture_output=True, text=True, timeout=timeout)


def processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker`` (orphans of a run)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_zmq_and_inproc_give_identical_results(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path)
    runs = {}
    for transport in ("inproc", "zmq"):
        out = tmp_path / transport
        result = semlink("run", str(path), "--transport", transport, "--out", str(out))
        assert result.returncode == 0, result.stderr
        runs[transport] = (out / "results.csv").read_text()
        assert (out / "frames.jsonl").read_text().count("\n") == 4 * 4
        assert (out / "miou_vs_bpp.png").stat().st_size > 0
    assert runs["inproc"] == runs["zmq"]
    rows = list(csv.DictReader(runs["zmq"].splitlines()))
    assert len(rows) == 4
    lossy_identity = next(r for r in rows if r["codec"] == "identity" and r["loss"] == "0.3")
    assert int(lossy_identity["packets_lost"]) > 0
    assert not processes_mentioning(str(tmp_path))


def test_rerun_skips_finished_points(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path)
    out = tmp_path / "out"
    assert semlink("run", str(path), "--transport", "inproc", "--out", str(out)).returncode == 0
    before = (out / "results.csv").read_text()
    again = semlink("run", str(path), "--transport", "inproc", "--out", str(out))
    assert again.returncode == 0 and "already in" in again.stderr + again.stdout
    assert (out / "results.csv").read_text() == before


def test_garbage_at_the_receiver_is_counted_and_survived(tmp_path: Path) -> None:
    path, _, p2 = scenario(tmp_path)
    run = RUN_IDS[0] + 7
    environment = {**os.environ, RUN_ID_ENV: str(run)}
    receiver = subprocess.Popen([sys.executable, "-m", "semlink.cli", "receiver", str(path), "--out", str(tmp_path)],
                                stderr=subprocess.PIPE, text=True, env=environment)  # fmt: skip
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 2000)
    push.connect(f"tcp://127.0.0.1:{p2}")
    rng = np.random.default_rng(0)
    valid_end = encode_message(End(run))
    try:
        for size in (0, 1, 5, 100, 1500, 70_000):
            push.send(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        push.send(valid_end[:-3])  # truncated
        push.send_multipart([b"\x93\x01\x02\x03", b"\xff" * 10])
        push.send(bytes([valid_end[0] ^ 0x04]) + valid_end[1:])  # a bit flip
        push.send(encode_message(End(run + 1)))  # another run's end does not stop this one
        push.send(valid_end)
        _, stderr = receiver.communicate(timeout=120)
    finally:
        push.close()
        context.term()
        if receiver.poll() is None:
            receiver.kill()
    assert receiver.returncode == 0, stderr
    assert "rejected:" in stderr and "rejected:foreign-run" in stderr


def test_receiver_with_no_peer_exits_with_one_line(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path, timeout=1.0)
    result = semlink("receiver", str(path), "--out", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("semlink: error: no message from the channel")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_crashing_child_stops_the_run_without_orphans(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path)
    result = semlink(
        "run", str(path), "--out", str(tmp_path / "out"), "--set", "network.receiver_bind=tcp://bad-address"
    )
    assert result.returncode == 1
    assert "the receiver stopped with exit code 1" in result.stderr
    assert not processes_mentioning(str(tmp_path))


def default_sigint() -> None:
    """Undo an inherited SIG_IGN (background jobs of a non-interactive shell ignore SIGINT), so
    the run gets the Ctrl-C a terminal would deliver."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_leaves_no_orphans(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path)
    run = subprocess.Popen([sys.executable, "-m", "semlink.cli", "run", str(path), "--out", str(tmp_path / "out"),
                            "--frames", "200"], stderr=subprocess.PIPE, text=True,
                           preexec_fn=default_sigint)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(processes_mentioning(str(tmp_path))) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(processes_mentioning(str(tmp_path))) >= 4, "the run did not start its three nodes"
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    time.sleep(0.5)
    assert not processes_mentioning(str(tmp_path))
