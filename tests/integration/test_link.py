"""The three nodes over ZeroMQ on loopback: same numbers as in-process, garbage, timeouts, no orphans."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq

from semlink.nodes.security import generate_keys
from semlink.study.trials import RUN_ID_ENV
from semlink.wire import (
    RUN_IDS,
    WRAPPED,
    End,
    Packet,
    PointStart,
    Sealer,
    decode_message,
    encode_message,
    pack_parts,
    read_seal,
    run_keys,
    unpack_parts,
)
from tests.ports import free_port

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
{addresses}  peer_timeout_s: {timeout}
"""

ADDRESSES = """\
  channel_bind: tcp://127.0.0.1:{p1}
  channel_connect: tcp://127.0.0.1:{p1}
  receiver_bind: tcp://127.0.0.1:{p2}
  receiver_connect: tcp://127.0.0.1:{p2}
"""


def scenario(tmp_path: Path, timeout: float = 30.0) -> tuple[Path, int, int]:
    p1, p2 = free_port(), free_port()
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(addresses=ADDRESSES.format(p1=p1, p2=p2), timeout=timeout))
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


# CURVE's handshake and encryption are tested in test_security.py; here -m slow keeps the suite in budget
@pytest.mark.parametrize("security", ["none", pytest.param("curve", marks=pytest.mark.slow)])
def test_zmq_and_inproc_give_identical_results(security: str, tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path)
    settings = ["--set", f"network.security={security}"]
    if security == "curve":
        generate_keys(tmp_path / "keys")
        settings += ["--set", f"network.keys={tmp_path / 'keys'}"]
    runs = {}
    for transport in ("inproc", "zmq"):
        out = tmp_path / transport
        result = semlink("run", str(path), "--transport", transport, "--out", str(out), *settings)
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


@pytest.mark.slow  # 22 s: two runs' private endpoints; one folder's lock is tested in CI (test_output_folder)
def test_two_runs_of_one_scenario_at_once_both_finish_with_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(addresses="", timeout=60))  # no addresses: each run picks its own
    command = [sys.executable, "-m", "semlink.cli", "run", str(path), "--transport", "zmq"]
    runs = [subprocess.Popen([*command, "--out", str(tmp_path / name)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for name in ("a", "b")]  # fmt: skip
    errors = [run.communicate(timeout=400)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    first, second = ((tmp_path / name / "results.csv").read_text() for name in ("a", "b"))
    assert first == second and first.count("\n") == 5


def test_rerun_skips_finished_points(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path)
    out = tmp_path / "out"
    assert semlink("run", str(path), "--transport", "inproc", "--out", str(out)).returncode == 0
    before = (out / "results.csv").read_text()
    again = semlink("run", str(path), "--transport", "inproc", "--out", str(out))
    assert again.returncode == 0 and "already in" in again.stderr + again.stdout
    assert (out / "results.csv").read_text() == before


def test_garbage_at_the_receiver_is_counted_and_survived(tmp_path: Path) -> None:
    """Garbage outside the seal (no seal, another run's key, a copy) and, sealed with the run's key
    as only the channel could, garbage inside it: each counted by reason, none fatal."""
    path, _, p2 = scenario(tmp_path)
    secret = RUN_IDS[0] + 7
    keys, seal = run_keys(secret), Sealer(run_keys(secret).channel).seal
    run = keys.run_id
    environment = {**os.environ, RUN_ID_ENV: str(secret)}
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
            push.send(rng.integers(0, 256, size, dtype=np.uint8).tobytes())  # unsealed
            push.send(seal(rng.integers(0, 256, size, dtype=np.uint8).tobytes()))
        push.send(pack_parts([valid_end]))  # unsealed: no end
        push.send(Sealer(run_keys(secret + 1).channel).seal(pack_parts([valid_end])))  # another run's key
        push.send(seal(pack_parts([valid_end[:-3]])))  # truncated
        push.send_multipart([b"\x93\x01\x02\x03", b"\xff" * 10])  # semlink sends one part a message
        push.send(seal(pack_parts([bytes([valid_end[0] ^ 0x04]) + valid_end[1:]])))  # a bit flip
        push.send(seal(pack_parts([encode_message(End(run + 1))])))  # another run's end does not stop this one
        push.send(seal(msgpack.packb([b"\x00"] * 5000)))  # parts beyond the cap are skipped
        push.send(seal(valid_end))  # not packed: a bad batch
        push.send(seal(pack_parts([valid_end])))  # before any point of the run started: no end
        start = seal(pack_parts([encode_message(PointStart(run, 0, "not-a-key", 4))]))
        push.send(start)  # the run began (a point unknown)
        push.send(start)  # a copy
        push.send(seal(pack_parts([valid_end])))
        _, stderr = receiver.communicate(timeout=120)
    finally:
        push.close()
        context.term()
        if receiver.poll() is None:
            receiver.kill()
    assert receiver.returncode == 0, stderr
    counters = next(line for line in stderr.splitlines() if line.startswith("counters: receiver"))
    for reason in ("foreign-run", "multipart", "bad-batch", "too-many-parts", "not-msgpack", "before-start"):
        assert f"rejected:{reason}=" in counters, counters
    words = counters.split()
    assert {"rejected:unsealed=7", "rejected:bad-mac=1", "rejected:replay=1"} <= set(words), counters


def wait_for(condition: Callable[[], bool], what: str, processes: list[subprocess.Popen[str]], limit: float) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if a process exits first or ``limit`` s pass."""
    deadline = time.monotonic() + limit
    while not condition():
        assert all(process.poll() is None for process in processes), f"a node exited before {what}"
        assert time.monotonic() < deadline, f"no {what} after {limit} s"
        time.sleep(0.1)


def test_a_forged_end_before_the_transmitter_connects_ends_nothing(tmp_path: Path) -> None:
    """An ``end`` carrying the run id (which anyone on the path reads) reaches the channel before
    the transmitter connects, unsealed or sealed with a key that is not the run's: it must end
    neither the channel nor the receiver (the transmitter would then queue its whole run for no
    one); it is dropped, and flagged in the first row."""
    path, p1, _ = scenario(tmp_path)
    secret = RUN_IDS[0] + 123
    run = run_keys(secret).run_id
    environment = {**os.environ, RUN_ID_ENV: str(secret)}
    out, ready = tmp_path / "out", tmp_path / "channel-ready"
    logs = {role: tmp_path / f"{role}.log" for role in ("receiver", "channel", "transmitter")}

    def start(role: str, *args: str, **extra: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "semlink.cli", role, str(path), *args]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=logs[role].open("w"), text=True,
                                env={**environment, **extra})  # fmt: skip

    nodes = [start("receiver", "--out", str(out))]
    try:
        nodes.append(start("channel", SEMLINK_READY_FILE=str(ready)))
        wait_for(ready.exists, "channel ready", nodes, 120)
        context = zmq.Context()
        push = context.socket(zmq.PUSH)
        push.connect(f"tcp://127.0.0.1:{p1}")
        forged = pack_parts([encode_message(End(run))])
        push.send(forged)
        push.send(Sealer(run_keys(run).transmitter).seal(forged))  # keyed by the wire id, not the secret
        push.close(linger=10_000)
        context.term()
        wait_for(lambda: "away: bad-mac" in logs["channel"].read_text(), "forged ends seen", nodes, 60)
        nodes.append(start("transmitter"))
        codes = [node.wait(timeout=240) for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
    assert codes == [0, 0, 0], {role: log.read_text()[-1500:] for role, log in logs.items()}
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert len(rows) == 4
    assert "dropped:bad-mac=1 dropped:unsealed=1" in rows[0]["rejected_by"]


def test_a_transmitter_whose_channel_never_came_fails_after_the_peer_timeout(tmp_path: Path) -> None:
    """All of a short run fits in the socket's queue with no channel there: the transmitter must
    not report it sent and then wait ``stall_timeout_s`` (here 600 s) for a peer that never came."""
    path, _, _ = scenario(tmp_path, timeout=2.0)
    environment = {**os.environ, RUN_ID_ENV: str(RUN_IDS[0] + 5)}
    command = [sys.executable, "-m", "semlink.cli", "transmitter", str(path), "-q"]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=240)
    assert result.returncode == 1, result.stderr
    assert "never showed up within 2 s" in result.stderr


def test_receiver_with_no_peer_exits_with_one_line(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path, timeout=1.0)
    result = semlink("receiver", str(path), "--out", str(tmp_path), "-q")  # -q: no start-up log lines
    assert result.returncode == 1
    assert result.stderr.strip().startswith("semlink: error: the channel (bound tcp://127.0.0.1:")
    assert "never showed up within 1 s" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_crashing_child_stops_the_run_without_orphans(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path)
    unbindable = "network.receiver_bind=tcp://192.0.2.1:5999"  # well formed, but not this host's: the bind fails
    result = semlink("run", str(path), "--out", str(tmp_path / "out"), "--set", unbindable)
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


def inject(address: str, messages: list[list[bytes]], stop: threading.Event, sent: list[int]) -> None:
    """Send ``messages`` round and round to ``address`` until ``stop`` (at most 10 minutes); counts
    them in ``sent``. No cap on the count: the attack lasts as long as the run, however slow."""
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.setsockopt(zmq.SNDHWM, 10)
    push.connect(address)
    deadline = time.monotonic() + 600
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            if push.poll(50, zmq.POLLOUT):
                push.send_multipart(messages[sent[0] % len(messages)], zmq.NOBLOCK)  # packed or not: both refused
                sent[0] += 1
            time.sleep(0.002)
    except zmq.Again:  # the peer went between the poll and the send: the run is over
        pass
    finally:
        push.close()
        context.term()


def test_foreign_traffic_during_a_run_is_flagged_and_changes_no_result(tmp_path: Path) -> None:
    path, _, _ = scenario(tmp_path)
    clean = semlink("run", str(path), "--transport", "inproc", "--out", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    # the ports are picked only now, just before the nodes bind them (not across the clean run: another
    # process on a busy machine could take a port released that long), and differ only in the network section
    path, p1, p2 = scenario(tmp_path)
    other = RUN_IDS[0] + 99
    foreign = [
        [pack_parts([encode_message(PointStart(other, 0, "k", 4))])],
        [pack_parts([encode_message(Packet(other, 0, 0, "image", 0, 1, 0, 1, 0, b"\x00\x01\x00\x00\x00\x00"))])],
        [pack_parts([b"\x00garbage"])],
        [b"\x00garbage"],
        [pack_parts([encode_message(End(other))])],
    ]
    stop, sent = threading.Event(), [[0], [0]]
    injectors = [
        threading.Thread(target=inject, args=(f"tcp://127.0.0.1:{port}", foreign, stop, count), daemon=True)
        for port, count in zip((p1, p2), sent, strict=True)
    ]
    for thread in injectors:
        thread.start()
    try:
        attacked = semlink("run", str(path), "--transport", "zmq", "--frames", "4", "--out", str(tmp_path / "attacked"))
    finally:
        stop.set()
        for thread in injectors:
            thread.join(timeout=10)
    assert attacked.returncode == 0, attacked.stderr
    assert "turned away messages" in attacked.stderr + attacked.stdout

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader((tmp_path / name / "results.csv").read_text().splitlines()))

    ignored = ("rejected", "rejected_by")
    assert [{k: v for k, v in r.items() if k not in ignored} for r in rows("attacked")] == [
        {k: v for k, v in r.items() if k not in ignored} for r in rows("clean")
    ]
    assert sum(int(r["rejected"]) for r in rows("attacked")) > 0, f"messages injected: {sent}"
    assert "unsealed" in " ".join(r["rejected_by"] for r in rows("attacked"))
    assert "rejected traffic" in (tmp_path / "attacked" / "report.md").read_text()


def is_end(message: bytes) -> bool:
    """Whether a sealed socket message from the channel is the run's ``end`` (seals not checked)."""
    sealed = read_seal(message)
    parts = unpack_parts((sealed.inner() if sealed.kind == WRAPPED else sealed).body).parts
    return len(parts) == 1 and isinstance(decode_message(parts[0]).message, End)


def replaying_relay(inbound: str, outbound: str, later: int, replayed: list[int]) -> None:
    """An on-path relay between channel and receiver: forwards every message, and sends each one
    again ``later`` messages after it, until it has forwarded the run's ``end`` (at most 10 minutes,
    each send at most a minute)."""
    context = zmq.Context()
    pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
    pull.setsockopt(zmq.LINGER, 0)
    push.setsockopt(zmq.LINGER, 2000)
    push.setsockopt(zmq.SNDTIMEO, 60_000)
    pull.bind(inbound)
    push.connect(outbound)
    seen: list[bytes] = []
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            if not pull.poll(100, zmq.POLLIN):
                continue
            message = pull.recv()
            push.send(message)
            if is_end(message):
                break
            seen.append(message)
            if len(seen) > later:
                push.send(seen[-1 - later])
                replayed[0] += 1
    finally:
        pull.close()
        push.close()
        context.term()


@pytest.mark.slow  # 21 s: the same replay through the stages in one process is in CI (tests/test_seal.py)
def test_an_on_path_relay_replaying_every_message_changes_no_row_and_flags_every_row(tmp_path: Path) -> None:
    """Issue 27: a relay that re-sent each channel->receiver message three messages later changed
    23 of 24 rows with nothing in ``rejected``. Now every copy is refused by its seal and counted."""
    path, _, _ = scenario(tmp_path)
    clean = semlink("run", str(path), "--transport", "inproc", "--out", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    path, _, p2 = scenario(tmp_path)  # fresh ports, picked just before the nodes bind them
    p3 = free_port()
    text = path.read_text().replace(
        f"receiver_connect: tcp://127.0.0.1:{p2}", f"receiver_connect: tcp://127.0.0.1:{p3}"
    )
    path.write_text(text)
    replayed = [0]
    relay = threading.Thread(
        target=replaying_relay, args=(f"tcp://127.0.0.1:{p3}", f"tcp://127.0.0.1:{p2}", 3, replayed), daemon=True
    )
    relay.start()
    try:
        attacked = semlink("run", str(path), "--transport", "zmq", "--out", str(tmp_path / "attacked"))
    finally:
        relay.join(timeout=60)
    assert attacked.returncode == 0, attacked.stderr
    assert replayed[0] > 10

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader((tmp_path / name / "results.csv").read_text().splitlines()))

    ignored = ("rejected", "rejected_by")
    assert [{k: v for k, v in r.items() if k not in ignored} for r in rows("attacked")] == [
        {k: v for k, v in r.items() if k not in ignored} for r in rows("clean")
    ]
    assert all(r["rejected"] != "0" and "rejected:replay=" in r["rejected_by"] for r in rows("attacked")), rows(
        "attacked"
    )
    assert {r["rejected"] for r in rows("clean")} == {"0"}


def node_pids(marker: str) -> dict[str, int]:
    """Role -> pid of a run's live processes (``run`` for the parent), by their command lines."""
    found = {}
    for pid in processes_mentioning(marker):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if len(argv) > 3 and argv[1:3] in (["-m", "semlink.cli"], ["-m", "semlink.nodes"]):
            found[argv[3]] = pid  # `run` for the parent, the role for a node
    return found


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A scenario and the results.csv of its uninterrupted run (60 frames a point)."""
    folder = tmp_path_factory.mktemp("clean")
    path = folder / "scenario.yaml"
    path.write_text(SCENARIO.format(addresses="", timeout=60))
    result = semlink("run", str(path), "--frames", "60", "--out", str(folder / "out"))
    assert result.returncode == 0, result.stderr
    return path, (folder / "out" / "results.csv").read_text()


@pytest.fixture(scope="module")
def uninterrupted_slow_sender(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A scenario whose transmitter codes a frame in 0.2 s (still sending after the first row) and
    the results.csv of its uninterrupted run (20 frames a point)."""
    folder = tmp_path_factory.mktemp("slow")
    path = folder / "scenario.yaml"
    text = SCENARIO.format(addresses="", timeout=60).replace("name: jpeg,", "name: tests.fakes:SlowJpeg,")
    path.write_text(text)
    result = semlink("run", str(path), "--frames", "20", "--out", str(folder / "out"))
    assert result.returncode == 0, result.stderr
    return path, (folder / "out" / "results.csv").read_text()


# each kill takes 25-50 s: with -m slow (CI keeps the parent's, test_sigkill_of_any_process...[run])
@pytest.mark.parametrize(
    "role", [pytest.param("transmitter", marks=pytest.mark.slow), pytest.param("channel", marks=pytest.mark.slow)]
)
def test_sigkill_of_a_sending_node_leaves_nothing_behind_and_a_rerun_gives_the_same_rows(
    role: str, uninterrupted_slow_sender: tuple[Path, str], tmp_path: Path
) -> None:
    path, clean = uninterrupted_slow_sender
    kill_and_rerun(role, path, clean, tmp_path, frames=20)


@pytest.mark.slow  # about 20 s
def test_a_starved_node_slows_the_run_but_changes_no_row(
    uninterrupted_slow_sender: tuple[Path, str], tmp_path: Path
) -> None:
    """The transmitter gets no CPU for 5 s (SIGSTOP) in mid-run, five times its frame time: the run
    waits for it and gives the uninterrupted rows (a stalled peer is only reported after
    network.stall_timeout_s, here 30 s)."""
    path, clean = uninterrupted_slow_sender
    out = tmp_path / "out"
    settings = ["--frames", "20", "--out", str(out), "--set", "network.stall_timeout_s=30"]
    run = subprocess.Popen([sys.executable, "-m", "semlink.cli", "run", str(path), *settings],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        results = out / "results.csv"
        while time.monotonic() < deadline and run.poll() is None:
            if results.exists() and results.read_text().count("\n") >= 2:  # a first row: connected, still sending
                break
            time.sleep(0.05)
        transmitter = node_pids(str(tmp_path))["transmitter"]
        os.kill(transmitter, signal.SIGSTOP)
        time.sleep(5)
        os.kill(transmitter, signal.SIGCONT)
        stderr = run.communicate(timeout=180)[1]
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr
    assert results.read_text() == clean


@pytest.mark.parametrize("role", [pytest.param("receiver", marks=pytest.mark.slow), "run"])
def test_sigkill_of_any_process_leaves_nothing_behind_and_a_rerun_gives_the_same_rows(
    role: str, uninterrupted: tuple[Path, str], tmp_path: Path
) -> None:
    path, clean = uninterrupted
    kill_and_rerun(role, path, clean, tmp_path, frames=60)


def kill_and_rerun(role: str, path: Path, clean: str, tmp_path: Path, frames: int) -> None:
    """SIGKILL ``role`` once the first row is written; nothing may outlive it by 5 s, and a rerun
    into the same folder must give the uninterrupted run's rows."""
    out = tmp_path / "out"
    settings = ["--frames", str(frames), "--out", str(out)]
    command = [sys.executable, "-m", "semlink.cli", "run", str(path), *settings]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        results = out / "results.csv"
        while time.monotonic() < deadline and run.poll() is None:
            if results.exists() and results.read_text().count("\n") >= 2:  # header and a first row
                break
            time.sleep(0.05)
        pids = node_pids(str(tmp_path))
        assert role in pids, f"no live {role} to kill: {pids}"
        os.kill(pids[role], signal.SIGKILL)
        stderr = run.communicate(timeout=30)[1]
        if role != "run":
            assert run.returncode == 1 and f"the {role} stopped with exit code -9" in stderr, stderr
        gone_by = time.monotonic() + 5
        while processes_mentioning(str(tmp_path)) and time.monotonic() < gone_by:
            time.sleep(0.1)
        assert not processes_mentioning(str(tmp_path)), "a process outlived the kill by 5 s"
    finally:
        if run.poll() is None:
            run.kill()
    rerun = semlink("run", str(path), *settings)
    assert rerun.returncode == 0, rerun.stderr
    assert results.read_text() == clean
