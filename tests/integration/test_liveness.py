"""Liveness: a slow peer never trips a timeout nor loses a message, a dead one is reported in one line, a frozen
or silent one as stalled."""

from __future__ import annotations

import csv
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_link import free_port

pytestmark = pytest.mark.net

SCENARIO = """
name: live
seed: 5
data: {{source: synthetic, split: val, frames: {frames}, size: [64, 128]}}
codecs: [{codec}]
channel: {{model: bernoulli, loss: 0.0}}
link: {{window: {window}}}
segmenter: tests.fakes:{segmenter}
device: cpu
network:
{addresses}  peer_timeout_s: {peer}
  stall_timeout_s: {stall}
  hwm: {hwm}
"""


JPEG = "{name: jpeg, quality: 50}"


def write(tmp_path: Path, codec: str = JPEG, segmenter: str = "brightness_segmenter", peer: float = 30,
          stall: float = 600, hwm: int = 1000, tcp: bool = True, window: int = 4, frames: int = 3) -> Path:  # fmt: skip
    path = tmp_path / "scenario.yaml"
    addresses = f"  channel_bind: tcp://127.0.0.1:{free_port()}\n  receiver_bind: tcp://127.0.0.1:{free_port()}\n"
    text = SCENARIO.format(codec=codec, segmenter=segmenter, peer=peer, stall=stall, hwm=hwm, window=window,
                           frames=frames, addresses=addresses if tcp else "")  # fmt: skip
    path.write_text(text)
    return path


def node(role: str, path: Path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "semlink.cli", role, str(path), "-q", *args]  # -q: errors only
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow  # 21 s: the peer timeout's other side (a peer that never comes) is tested in CI
def test_frames_slower_than_the_peer_timeout_never_trip_it(tmp_path: Path) -> None:
    # the transmitter segments each frame for 1.5 s (ssm sends the map), the peer timeout is 1 s
    path = write(tmp_path, codec="{name: ssm}", segmenter="slow_segmenter", peer=1.0)
    result = subprocess.run([sys.executable, "-m", "semlink.cli", "run", str(path), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(rows) == 2 and ",3," in rows[1]  # one point of 3 frames


@pytest.mark.slow  # 15 s: a slow receiver's queue; the suite's ten minutes keep it to -m slow
def test_a_receiver_slower_than_its_queue_loses_nothing(tmp_path: Path) -> None:
    # the receiver segments for 1.5 s a call (two a frame) behind a queue of one message, over ipc://:
    # libzmq stops reading the connection meanwhile (with ZMTP heartbeats, such a stall dropped it)
    path = write(tmp_path, codec="{name: identity}", segmenter="slow_segmenter", hwm=1, tcp=False, window=1)
    result = subprocess.run([sys.executable, "-m", "semlink.cli", "run", str(path), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").open()))
    assert len(rows) == 1 and rows[0]["frames_complete"] == "3.0000" and rows[0]["packets_lost"] == "0"


@pytest.mark.parametrize(
    ("how", "stall", "report"),
    [
        (signal.SIGKILL, 600, "went away"),
        # slow: the stall message itself is tested below (a connected, silent channel) in CI
        pytest.param(signal.SIGSTOP, 8, "alive but stalled", marks=pytest.mark.slow),
    ],
)
def test_a_dead_or_frozen_channel_is_reported_by_the_receiver_in_one_line(
    how: signal.Signals, stall: float, report: str, tmp_path: Path
) -> None:
    # a frozen process keeps its connections open: it is told from an idle one only by the stall timeout;
    # the transmitter codes a frame every 0.2 s, so the run is still going when the channel stops
    path = write(tmp_path, codec="{name: tests.fakes:SlowJpeg, quality: 50}", stall=stall, frames=300)
    receiver = node("receiver", path, "--out", str(tmp_path / "out"))
    others = [node("channel", path), node("transmitter", path)]
    try:
        time.sleep(15)  # all started, connected, and the point's first frames relayed (imports take seconds)
        assert receiver.poll() is None and all(child.poll() is None for child in others)
        others[0].send_signal(how)  # SIGKILL closes its connections; SIGSTOP leaves them open and silent
        stderr = receiver.communicate(timeout=60)[1]
    finally:
        for child in (receiver, *others):
            child.kill()
            child.wait()
    assert receiver.returncode == 1
    assert "the channel (bound tcp://127.0.0.1:" in stderr and report in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.slow  # 13 s: strangers' traffic is refused by its seal, tested in CI (test_seal, test_link)
def test_a_stranger_who_connects_and_leaves_before_the_peer_fails_nothing(tmp_path: Path) -> None:
    # a bound socket cannot tell a stranger's connection from its peer's: until the peer's first message of
    # the run, a connection that closes must not count as the peer going away
    path = write(tmp_path)
    port = int(re.findall(r"receiver_bind: tcp://127.0.0.1:(\d+)", path.read_text())[0])
    receiver = node("receiver", path, "--out", str(tmp_path / "out"), "--report")  # as in docker-compose.yml
    others: list[subprocess.Popen[str]] = []
    try:
        deadline = time.monotonic() + 60
        while True:  # the stranger: connect once the receiver listens, send junk, leave
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as stranger:
                    stranger.sendall(b"\xff" * 64)
                break
            except OSError:
                assert time.monotonic() < deadline and receiver.poll() is None, "the receiver never listened"
                time.sleep(0.2)
        time.sleep(2)  # well past the half second after which a trusted peer's closed connection means gone
        assert receiver.poll() is None
        others = [node("channel", path), node("transmitter", path)]
        stderr = receiver.communicate(timeout=120)[1]
    finally:
        for child in (receiver, *others):
            child.kill()
            child.wait()
    assert receiver.returncode == 0, stderr
    assert len(list(csv.DictReader((tmp_path / "out" / "results.csv").open()))) == 1
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "miou_vs_bpp.pdf").exists()


def test_a_connected_but_silent_peer_is_reported_as_stalled(tmp_path: Path) -> None:
    path = write(tmp_path, stall=2.0)
    receiver = node("receiver", path, "--out", str(tmp_path / "out"))
    channel = node("channel", path)  # connects to the receiver, then waits for a transmitter that never comes
    try:
        stderr = receiver.communicate(timeout=60)[1]
    finally:
        for child in (receiver, channel):
            child.kill()
            child.wait()
    assert receiver.returncode == 1
    assert "is connected but has sent nothing for 2 s: it is alive but stalled" in stderr, stderr
