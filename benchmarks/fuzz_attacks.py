"""The attacks of issue 27 against real running nodes and real folders, each checked and counted.

Run: ``python benchmarks/fuzz_attacks.py [--frames 500] [--repeats 3] [--quota 2000] [--timeout 900]``
(a clean run, then the attacks); ``benchmarks/fuzz_nodes.py`` runs them after its fuzz, with its
own clean run. Every address is on loopback and picked here; every loop and wait is bounded.

- ``network``: the three nodes started by hand with one secret (``SEMLINK_RUN_ID``), an
  attacker's relay on each hop (transmitter → relay → channel → relay → receiver), and:

  - ``early-end``: before each bound node's peer connects, an ``End`` unsealed, one under a
    random seal and a ``PointEnd`` sealed with a key derived from the wire id as if it were the
    secret, pushed at the receiver and then at the channel (the attacker is given the wire id);
    the transmitter starts only once both nodes logged them. The run must still finish.
  - ``sniffed-control``: each relay reads the run id and a ``PointStart`` off the traffic and,
    after each message it forwards, sends one of: ``End`` or ``PointEnd`` with that id unsealed,
    ``End`` under a random seal numbered next, ``PointEnd`` sealed with the wire-id-derived key,
    a captured message renumbered (expected: ``unsealed`` or ``bad-mac``).
  - ``replay``: a copy of the message forwarded 3 messages earlier (expected ``replay``);
    ``stale``: a copy of one 4,296 messages earlier, beyond the seal's window of 4,096 (expected
    ``stale``; needs more than 4,296 messages a hop: frames × 4 points × repeats).

  The relays forward every genuine message first and stop at the run's ``End``, so every
  message they add is read: the nodes' counters (channel ``dropped:*`` + receiver
  ``rejected:*``) must equal what was sent, reason by reason, and the rows equal the clean
  run's in every column but ``rejected``/``rejected_by``.
- ``swapped-cache``: in the clean run's work cache, pairs of valid entries of one stage swap
  their files; ``linked-cache``: a stage, a shard and entries are replaced by symbolic links
  into a victim folder of the campaign's that holds valid-looking entries of those keys with
  other keys' values (a cache that followed a link would change the rows), plus links to a
  plain file and a folder. A rerun into a new folder with that cache must give a ``results.csv``
  byte-identical to the clean run's, find the swapped entries (``torn``) and store them anew;
  no victim file may change, go missing or be read (its access time, set to 1970, must stay),
  and ``semlink cache clear`` must delete nothing outside the cache.
- ``two-runs-one-folder``: while that rerun holds its folder, a second ``semlink run`` into it
  must be refused in one line naming the holder's pid; the folder's rows must be one run's.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import zmq
from bench_transport import LOOPBACK, free_port

from semlink.study.trials import RUN_ID_ENV
from semlink.wire import (
    SEALED,
    WRAPPED,
    End,
    PointEnd,
    PointStart,
    Sealer,
    decode_message,
    encode_message,
    new_run_id,
    pack_parts,
    read_seal,
    run_keys,
    unpack_parts,
)
from semlink.wire.seal import MARK, SEQ_BYTES, TAG_BYTES, WINDOW
from semlink.workcache import MAGIC, STAGES, entry_bytes, entry_check
from semlink.workcache.folder import entries as cache_entries

SCENARIO = """\
name: fuzz
seed: 5
repeats: {repeats}
data: {{source: synthetic, split: val, frames: 8, size: [64, 128]}}
codecs:
  - {{name: jpeg, target_bpp: [0.1, 0.4]}}
channel: {{model: gilbert_elliott, loss: [0.0, 0.05], burst: 2}}
link: {{mtu: 1200, fps: 10, deadline_ms: 100}}
transport: zmq
"""
POINTS = 4
FLAG_COLUMNS = ("rejected", "rejected_by")
ROLES = ("transmitter", "channel", "receiver")
REPLAY_BACK = 3
STALE_BACK = WINDOW + 200
REASONS = ("unsealed", "bad-mac", "replay", "stale")
OLD = 1.0
"""The access time (1970) set on every victim file: a read through a link would move it."""


class FuzzError(RuntimeError):
    """A run failed to start or to finish."""


class Pusher(Protocol):
    """What pushes at a node while a run goes on (``fuzz_nodes.Fuzzer``)."""

    sent: Counter[str]

    def run(self, stop: threading.Event) -> None: ...


def say_progress(fuzzers: list[Pusher], stop: threading.Event, every_s: float = 15.0) -> None:
    """Print the messages sent so far every ``every_s`` seconds until ``stop``."""
    started = time.perf_counter()
    while not stop.wait(every_s):
        sent = [sum(f.sent.values()) for f in fuzzers]
        print(
            f"  {time.perf_counter() - started:.0f} s: sent {sum(sent):,} ({' + '.join(f'{n:,}' for n in sent)})",
            flush=True,
        )


class NodeMemory:
    """Samples of one ``/proc/PID/status`` field (MB) of each node of a run, found by its output folder.

    :param marker: a path in the nodes' command lines. :param status_field: ``VmHWM`` (peak) or ``VmRSS``.
    :param interval_s: seconds between samples.
    """

    def __init__(self, marker: str, status_field: str = "VmHWM", interval_s: float = 0.1) -> None:
        self.marker, self.prefix, self.interval_s = marker, f"{status_field}:", interval_s
        self.samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def peak_mb(self) -> dict[str, float]:
        """The highest sample of each node."""
        return {role: max(mb for _, mb in series) for role, series in self.samples.items() if series}

    def __enter__(self) -> NodeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            now = time.perf_counter() - self.started
            for pid, role in node_processes(self.marker).items():
                with contextlib.suppress(OSError):  # the process ended between scan and read
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith(self.prefix):
                            self.samples[role].append((now, int(line.split()[1]) / 1024))


def node_processes(marker: str) -> dict[int, str]:
    """pid -> role of the live ``semlink`` nodes whose command line mentions ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # the process ended between scan and read
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            launched = argv[1:3] in (["-m", "semlink.cli"], ["-m", "semlink.nodes"])  # by hand, or by `semlink run`
            if marker in " ".join(argv) and len(argv) > 3 and launched and argv[3] in ROLES:
                found[int(entry.name)] = argv[3]
    return found


@dataclass
class RunResult:
    """One run: its exit code, seconds, rows, nodes' counters and peak memory."""

    code: int
    seconds: float
    rows: list[dict[str, str]]
    counters: dict[str, dict[str, int]]
    peak_mb: dict[str, float]
    stderr: str


def run_scenario(
    folder: Path, frames: int, repeats: int, overrides: list[str], timeout_s: float, fuzzers: list[Pusher]
) -> RunResult:
    """``semlink run`` into ``folder/out`` with ``fuzzers`` pushing while it runs."""
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "scenario.yaml"
    scenario.write_text(SCENARIO.format(repeats=repeats))
    out = folder / "out"
    command = [sys.executable, "-m", "semlink.cli", "run", str(scenario), "--frames", str(frames), "--out", str(out)]
    for override in overrides:
        command += ["--set", override]
    stop = threading.Event()
    threads = [threading.Thread(target=f.run, args=(stop,), daemon=True) for f in fuzzers]
    if fuzzers:
        threads.append(threading.Thread(target=say_progress, args=(fuzzers, stop), daemon=True))
    started = time.perf_counter()
    with NodeMemory(str(out)) as memory:
        run = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for thread in threads:
            thread.start()
        try:
            stderr = run.communicate(timeout=timeout_s)[1]
        except subprocess.TimeoutExpired:
            run.kill()
            raise FuzzError(f"the run in {folder} took longer than {timeout_s:g} s (--timeout)") from None
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    seconds = time.perf_counter() - started
    rows = list(csv.DictReader((out / "results.csv").open(newline=""))) if (out / "results.csv").is_file() else []
    return RunResult(run.returncode, seconds, rows, node_counters(out / "logs"), memory.peak_mb, stderr)


def node_counters(logs: Path) -> dict[str, dict[str, int]]:
    """Each node's last ``counters:`` line from its log, as reason -> count."""
    found: dict[str, dict[str, int]] = {}
    for log in sorted(logs.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("counters: "):
                _, role, *pairs = line.split()
                found[role] = {k: int(v) for k, v in (pair.rsplit("=", 1) for pair in pairs)}
    return found


def rows_equal(clean: list[dict[str, str]], fuzzed: list[dict[str, str]]) -> tuple[bool, str]:
    """Whether the rows agree in every column but the rejection flags; a one-line why not."""
    if len(clean) != len(fuzzed):
        return False, f"{len(fuzzed)} rows against {len(clean)} clean"
    for number, (a, b) in enumerate(zip(clean, fuzzed, strict=True), start=1):
        differing = [c for c in a if c not in FLAG_COLUMNS and a[c] != b.get(c)]
        if differing:
            return False, f"row {number} differs in {', '.join(differing[:6])}"
    return True, "equal in every column but rejected/rejected_by"


@dataclass
class Campaign:
    """Where and how the attacks run: a scratch folder, the clean run's folder (rows and cache)."""

    folder: Path
    clean: Path
    frames: int
    repeats: int
    timeout_s: float
    quota: int
    seed: int = 0


@dataclass
class Outcome:
    """One attack: what was sent, what was counted, how the rows came out, and whether it held."""

    kind: str
    sent: str
    counted: str
    rows: str
    ok: bool

    def line(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        return f"{self.kind}: sent {self.sent}; counted {self.counted}; rows {self.rows} -> {verdict}"


def semlink(*args: str) -> list[str]:
    return [sys.executable, "-m", "semlink.cli", *args]


def opened(message: bytes) -> list[bytes]:
    """The packets of a sealed socket message, read as anyone on the path can (seals not checked)."""
    sealed = read_seal(message)
    return unpack_parts((sealed.inner() if sealed.kind == WRAPPED else sealed).body).parts


def random_seal(rng: random.Random, seq: int, body: bytes) -> bytes:
    """``body`` under a seal of the right shape, numbered ``seq``, with a random tag."""
    return bytes((MARK, SEALED)) + seq.to_bytes(SEQ_BYTES, "big") + rng.randbytes(TAG_BYTES) + body


def renumbered(message: bytes, seq: int) -> bytes:
    """A captured sealed message with its (outer) number changed and its tag kept."""
    return message[:2] + seq.to_bytes(SEQ_BYTES, "big") + message[2 + SEQ_BYTES :]


def point_end(run: int, point: int, key: str) -> bytes:
    return pack_parts([encode_message(PointEnd(run, point, key, 0, 0, 0, (), (), ()))])


class Relay:
    """An attacker on one hop's path: forwards every message, reads the run id and a point off the
    traffic, and after each message sends a replay, a stale copy and a forged control (each up to
    ``quota``), until it has forwarded the run's ``End``.

    :param listen: the address it binds (the sender connects to it). :param target: the node it feeds.
    :param sender: ``transmitter`` or ``channel``: whose seals travel on this hop.
    """

    def __init__(self, listen: str, target: str, sender: str, quota: int, seed: int) -> None:
        self.listen, self.target, self.sender, self.quota = listen, target, sender, quota
        self.rng = random.Random(seed)
        self.sent: Counter[str] = Counter()  # by the reason the node should count
        self.variants: Counter[str] = Counter()
        self.captured: deque[bytes] = deque(maxlen=STALE_BACK + 1)
        self.forwarded, self.run_id, self.start, self.last_seq = 0, 0, None, 0
        self.error = ""
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.pull = self.context.socket(zmq.PULL)
        self.pull.bind(listen)

    def run(self, deadline: float) -> None:
        push = self.context.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDTIMEO, 60_000)
        push.connect(self.target)
        try:
            while time.monotonic() < deadline:
                if not self.pull.poll(100, zmq.POLLIN):
                    continue
                message = self.pull.recv()
                push.send(message)
                self.forwarded += 1
                parts = opened(message)
                first = decode_message(parts[0]).message if len(parts) == 1 else None
                if isinstance(first, End):
                    break
                self._sniff(message, parts)
                for extra, reason, variant in self._extras():
                    push.send(extra)
                    self.sent[reason] += 1
                    self.variants[variant] += 1
            else:
                self.error = "the run's end never came"
        except (zmq.ZMQError, ValueError) as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.pull.close(linger=0)  # the sender sees its peer leave: its end was delivered
            push.close(linger=30_000)
            self.context.term()

    def _sniff(self, message: bytes, parts: list[bytes]) -> None:
        self.captured.append(message)
        self.last_seq = max(self.last_seq, read_seal(message).seq)
        if parts and not self.run_id:
            self.run_id = decode_message(parts[0]).message.run_id
        if len(parts) == 1 and isinstance(start := decode_message(parts[0]).message, PointStart):
            self.start = start

    def _extras(self) -> list[tuple[bytes, str, str]]:
        out, captured = [], self.captured
        if self.sent["replay"] < self.quota and len(captured) > REPLAY_BACK:
            out.append((captured[-1 - REPLAY_BACK], "replay", "copy 3 back"))
        if self.sent["stale"] < self.quota and len(captured) > STALE_BACK:
            out.append((captured[0], "stale", f"copy {STALE_BACK} back"))
        controls = sum(self.sent[r] for r in ("unsealed", "bad-mac"))
        if controls < self.quota and self.start is not None:
            out.append(self._forged(controls % 5))
        return out

    def _forged(self, variant: int) -> tuple[bytes, str, str]:
        run, point, key = self.run_id, self.start.point, self.start.key  # type: ignore[union-attr]
        end = pack_parts([encode_message(End(run))])
        if variant == 0:
            return end, "unsealed", "End unsealed"
        if variant == 1:
            return point_end(run, point, key), "unsealed", "PointEnd unsealed"
        if variant == 2:
            return random_seal(self.rng, self.last_seq + 1, end), "bad-mac", "End, random seal"
        if variant == 3:
            guessed = getattr(run_keys(run), self.sender)  # the wire id taken for the secret
            return Sealer(guessed).seal(point_end(run, point, key)), "bad-mac", "PointEnd, wire-id key"
        return renumbered(self.captured[-1], self.last_seq + 1), "bad-mac", "captured, renumbered"


def early_forgeries(rng: random.Random, run: int, sender: str) -> list[bytes]:
    """What the attacker pushes at a bound node before its peer connects: 1 unsealed, 2 bad-mac."""
    end = pack_parts([encode_message(End(run))])
    guessed = Sealer(getattr(run_keys(run), sender)).seal(point_end(run, 0, "early"))
    return [end, random_seal(rng, 2**62, end), guessed]


def push_all(address: str, messages: list[bytes]) -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.connect(address)
    for message in messages:
        push.send(message)
    push.close(linger=10_000)
    context.term()


def wait_for(log: Path, words: tuple[str, ...], nodes: list[subprocess.Popen[bytes]], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while not all(w in log.read_text(errors="replace") for w in words):
        if time.monotonic() > deadline or any(n.poll() is not None for n in nodes):
            raise FuzzError(f"{log.stem} did not log {', '.join(words)} within {limit_s:g} s (or a node exited)")
        time.sleep(0.2)


def network_attack(c: Campaign) -> list[Outcome]:
    """Hand-started nodes, forged ends before each peer connects, a relay on each hop."""
    folder = c.folder / "network"
    (folder / "logs").mkdir(parents=True)
    scenario = folder / "scenario.yaml"
    scenario.write_text(SCENARIO.format(repeats=c.repeats))
    ports = [free_port() for _ in range(4)]
    while len(set(ports)) < 4:
        ports = [free_port() for _ in range(4)]
    bind_ch, relay_a, bind_rx, relay_b = (f"tcp://{LOOPBACK}:{p}" for p in ports)
    sets = [
        f"data.frames={c.frames}",
        f"cache={c.clean / 'cache'}",
        "network.peer_timeout_s=60",
        f"network.channel_bind={bind_ch}",
        f"network.channel_connect={relay_a}",
        f"network.receiver_bind={bind_rx}",
        f"network.receiver_connect={relay_b}",
    ]
    secret = new_run_id()
    run, rng = run_keys(secret).run_id, random.Random(c.seed)
    env = {**os.environ, RUN_ID_ENV: str(secret)}
    nodes: list[subprocess.Popen[bytes]] = []
    relays = [
        Relay(relay_a, bind_ch, "transmitter", c.quota, c.seed),
        Relay(relay_b, bind_rx, "channel", c.quota, c.seed + 1),
    ]
    deadline = time.monotonic() + c.timeout_s

    def start(role: str, *args: str) -> None:
        log = (folder / "logs" / f"{role}.log").open("w")
        command = semlink(role, str(scenario), *args, *(w for s in sets for w in ("--set", s)))
        nodes.append(
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**env, "SEMLINK_READY_FILE": str(folder / f"{role}.ready")},
            )
        )

    threads = [threading.Thread(target=r.run, args=(deadline,), daemon=True) for r in relays]
    started = time.perf_counter()
    try:
        start("receiver", "--out", str(folder / "out"))
        while not (folder / "receiver.ready").exists() and nodes[0].poll() is None:
            time.sleep(0.1)
        push_all(bind_rx, early_forgeries(rng, run, "channel"))
        wait_for(folder / "logs" / "receiver.log", ("away: unsealed", "away: bad-mac"), nodes, 120)
        threads[1].start()
        start("channel")
        while not (folder / "channel.ready").exists() and nodes[1].poll() is None:
            time.sleep(0.1)
        push_all(bind_ch, early_forgeries(rng, run, "transmitter"))
        wait_for(folder / "logs" / "channel.log", ("away: unsealed", "away: bad-mac"), nodes, 120)
        threads[0].start()
        start("transmitter")
        codes = [node.wait(timeout=max(1.0, deadline - time.monotonic())) for node in nodes]
    except subprocess.TimeoutExpired:
        raise FuzzError(f"the attacked run did not end within {c.timeout_s:g} s (--timeout)") from None
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
        for thread in threads:
            thread.join(timeout=60)
    seconds = time.perf_counter() - started
    counters = node_counters(folder / "logs")
    csv_path = folder / "out" / "results.csv"
    rows = list(_rows(csv_path))
    equal, why = rows_equal(list(_rows(c.clean / "results.csv")), rows)
    flagged = sum(1 for row in rows if row.get("rejected") not in ("", "0", None))
    counted = Counter({r: counters.get("channel", {}).get(f"dropped:{r}", 0) for r in REASONS})
    counted.update({r: counters.get("receiver", {}).get(f"rejected:{r}", 0) for r in REASONS})
    early = Counter({"unsealed": 2, "bad-mac": 4})
    sent = early + relays[0].sent + relays[1].sent
    sniffed = all(r.run_id == run for r in relays)
    rows_text = f"{why}, {flagged} of {len(rows)} flagged; exit codes {codes}; {seconds:.0f} s"
    base = codes == [0, 0, 0] and equal and len(rows) == POINTS and flagged == POINTS
    errors = "; ".join(f"relay {r.sender}: {r.error}" for r in relays if r.error)
    out = [
        Outcome(
            "early-end",
            "3 at the receiver before the channel connected, 3 at the channel before the "
            "transmitter (1 unsealed, 2 forged seals each)",
            "each node logged unsealed and bad-mac first",
            rows_text,
            base,
        )
    ]
    for kind, reasons in (("sniffed-control", ("unsealed", "bad-mac")), ("replay", ("replay", "stale"))):
        variants = Counter()
        for relay in relays:
            variants.update({v: n for v, n in relay.variants.items() if ("copy" in v) == (kind == "replay")})
        by_hop = ", ".join(f"{r.sender} hop {sum(r.sent[x] for x in reasons):,}" for r in relays)
        sent_text = f"{sum(variants.values()):,} ({by_hop}; {_listing(variants)})"
        match = all(counted[x] == sent[x] for x in reasons)
        counted_text = ", ".join(f"{x} {counted[x]:,} of {sent[x]:,} expected" for x in reasons)
        if not sent["stale"] and kind == "replay":
            counted_text += f" (no stale copy: a hop carried under {STALE_BACK + 1:,} messages; raise --repeats)"
        if kind == "sniffed-control":
            counted_text += f"; run id read off the traffic: {'yes' if sniffed else 'no'}"
        ok = base and match and sniffed and not errors and all(sent[x] for x in reasons)
        out.append(Outcome(kind, sent_text, counted_text + (f"; {errors}" if errors else ""), rows_text, ok))
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(newline=""))) if path.is_file() else []


def _listing(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items()))


def payload(path: Path) -> bytes:
    return path.read_bytes()[len(MAGIC) + 16 :]


def swap_entries(cache: Path, pairs: int) -> list[tuple[str, Path]]:
    """Swap the files of up to ``pairs`` pairs of differing entries in each stage but ``decode``
    (linked whole below); (stage, path) of each."""
    swapped = []
    for stage in (s for s in STAGES if s != "decode"):
        found = sorted(Path(e.path) for e in cache_entries(cache, (stage,)))
        done = 0
        for a, b in zip(found[::2], found[1::2], strict=False):
            if done == pairs:
                break
            data_a, data_b = a.read_bytes(), b.read_bytes()
            if payload(a) != payload(b):
                a.write_bytes(data_b)
                b.write_bytes(data_a)
                swapped += [(stage, a), (stage, b)]
                done += 1
    return swapped


def poison(victim: Path, stage: str, keys: list[Path], values: list[Path]) -> None:
    """Valid entries of ``keys`` (their names) holding the values of ``values``, in ``victim``."""
    victim.mkdir(parents=True, exist_ok=True)
    for key, value in zip(keys, values, strict=True):
        (victim / key.name).write_bytes(entry_bytes(stage, key.name, payload(value)))


def plant_links(cache: Path, victim: Path, skip: set[Path]) -> Counter[str]:
    """Replace the ``decode`` stage, a ``segment`` shard and ``score``/``encode`` entries by links
    into ``victim``, holding other keys' values under their keys; add links to a file and a folder."""
    planted: Counter[str] = Counter()
    (victim / "precious.txt").parent.mkdir(parents=True, exist_ok=True)
    (victim / "precious.txt").write_text("not the cache's\n")
    decode = sorted(Path(e.path) for e in cache_entries(cache, ("decode",)))
    if decode:
        for entry, other in zip(decode, decode[1:] + decode[:1], strict=True):  # each with the next one's value
            poison(victim / "decode" / entry.parent.name, "decode", [entry], [other])
        (victim / "decode" / "notes.txt").write_text("precious\n")
        shutil.rmtree(cache / "decode")
        os.symlink(victim / "decode", cache / "decode")
        planted["stage"] += 1
    shards = sorted({Path(e.path).parent for e in cache_entries(cache, ("segment",))} - {p.parent for p in skip})
    if shards:
        shard, keys = shards[0], sorted(shards[0].iterdir())
        poison(victim / "segment-shard", "segment", keys, keys[1:] + keys[:1])
        for key in keys:
            key.unlink()
        shard.rmdir()
        os.symlink(victim / "segment-shard", shard)
        planted["shard"] += 1
    for stage in ("score", "encode", "segment"):
        found = [Path(e.path) for e in cache_entries(cache, (stage,)) if Path(e.path) not in skip][:10]
        for entry, other in zip(found, found[1:] + found[:1], strict=True):
            poison(victim / f"{stage}-entries", stage, [entry], [other])
            entry.unlink()
            os.symlink(victim / f"{stage}-entries" / entry.name, entry)
            planted["entry"] += 1
    for stage in ("score", "encode"):
        shard = next((Path(e.path).parent for e in cache_entries(cache, (stage,))), None)
        if shard is not None:
            os.symlink(victim / "precious.txt", shard / ("ab" * 16))
            os.symlink(victim, shard / ("cd" * 16))
            planted["stray"] += 2
    return planted


def snapshot(folder: Path) -> tuple[dict[str, bytes | None], list[str]]:
    """Every path under ``folder`` with a file's bytes, and the files read since :func:`mark_unread`."""
    read = [str(p) for p in folder.rglob("*") if p.is_file() and os.stat(p).st_atime != OLD]
    found = {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}
    mark_unread(folder)
    return found, read


def is_own(stage: str, path: Path) -> bool:
    """Whether ``path`` is a plain file holding a valid entry of its own key."""
    data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
    head, check, value = data[: len(MAGIC)], data[len(MAGIC) : len(MAGIC) + 16], data[len(MAGIC) + 16 :]
    return head == MAGIC and check == entry_check(stage, path.name, value)


def mark_unread(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (OLD, os.stat(path).st_mtime))


def cache_and_folder_attacks(c: Campaign) -> list[Outcome]:
    """Swap and link the clean run's cache, rerun with it while a second run aims at its folder."""
    cache, victim = c.clean / "cache", c.folder / "victim"
    swapped = swap_entries(cache, 25)
    planted = plant_links(cache, victim, {p for _, p in swapped})
    before, _ = snapshot(victim)
    out = c.folder / "cache-rerun" / "out"
    scenario = c.folder / "cache-rerun" / "scenario.yaml"
    scenario.parent.mkdir(parents=True)
    scenario.write_text(SCENARIO.format(repeats=c.repeats))
    command = semlink("run", str(scenario), "--frames", str(c.frames), "--out", str(out), "--set", f"cache={cache}")
    holder = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    refusal, refused_while_held = "", False
    try:
        deadline = time.monotonic() + 120
        while f'"pid": {holder.pid},' not in _text(out / ".lock") and holder.poll() is None:
            if time.monotonic() > deadline:
                raise FuzzError("the rerun never took its folder's lock")
            time.sleep(0.05)
        second = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        refused_while_held = holder.poll() is None and second.returncode != 0
        refusal = "\n".join(line for line in second.stderr.splitlines() if line.strip())
        stderr = holder.communicate(timeout=c.timeout_s)[1]
    except subprocess.TimeoutExpired:
        raise FuzzError(f"the cache rerun did not end within {c.timeout_s:g} s (--timeout)") from None
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    after_run, read_in_run = snapshot(victim)
    rebuilt = sum(1 for stage, p in swapped if is_own(stage, p))
    cleared = subprocess.run(semlink("cache", "clear", str(cache)), capture_output=True, text=True, timeout=120)
    after_clear, read_in_clear = snapshot(victim)
    left = [e.path for e in cache_entries(cache)]
    identical = (out / "results.csv").read_bytes() == (c.clean / "results.csv").read_bytes()
    rows_text = (
        "results.csv byte-identical to the clean run's" if identical else "results.csv DIFFERS from the clean run's"
    )
    if holder.returncode:
        rows_text += f"; the rerun failed ({holder.returncode}): {stderr.strip()[-500:]}"
    work = _text(out / "work.json")
    torn = int(work.split('"torn":', 1)[1].split(",", 1)[0]) if '"torn":' in work else -1
    stages = Counter(stage for stage, _ in swapped)
    ok_rows = identical and holder.returncode == 0
    victim_ok = before == after_run == after_clear and not read_in_run and not read_in_clear
    clear_line = next(
        (line for line in cleared.stdout.splitlines() if "deleted" in line), cleared.stderr.strip()[-200:]
    )
    holder_named = f"pid {holder.pid}" in refusal
    rows = list(_rows(out / "results.csv"))
    one_run = len(rows) == POINTS == len({r["point_key"] for r in rows})
    return [
        Outcome(
            "swapped-cache",
            f"{len(swapped) // 2} pairs of entries swapped ({_listing(stages)} entries)",
            f"torn {torn}; {rebuilt} of {len(swapped)} swapped entries rewritten as their own key's",
            rows_text,
            ok_rows and torn >= len(swapped) and rebuilt == len(swapped),
        ),
        Outcome(
            "linked-cache",
            f"{sum(planted.values())} links into a victim folder ({_listing(planted)}); victim {len(before)} paths",
            f"victim files changed or missing: {0 if victim_ok else 'SOME'}, read through a "
            f"link: {len(read_in_run) + len(read_in_clear)}; clear: {clear_line!r}, {len(left)} entries left",
            rows_text,
            ok_rows and victim_ok and cleared.returncode == 0 and not left,
        ),
        Outcome(
            "two-runs-one-folder",
            "a second `semlink run` into the folder while the rerun held it",
            f"refused: {'yes' if refused_while_held else 'NO'}, in {len(refusal.splitlines())} line(s), holder's pid "
            f"named: {'yes' if holder_named else 'no'} ({refusal[:160]!r})",
            f"{len(rows)} rows, one per point; {rows_text}",
            refused_while_held and holder_named and len(refusal.splitlines()) == 1 and one_run and identical,
        ),
    ]


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def run_attacks(c: Campaign) -> list[Outcome]:
    """Every attack, in turn (the cache attacks last: they spoil the clean run's cache)."""
    outcomes = []
    for attack in (network_attack, cache_and_folder_attacks):
        print(f"attack: {attack.__name__} ...", flush=True)
        done = attack(c)
        outcomes += done
        for outcome in done:
            print("  " + outcome.line(), flush=True)
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=500, help="frames per point and repeat (default and most: 500)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each point (default 3: enough for stale)")
    parser.add_argument("--quota", type=int, default=2000, help="messages per kind and hop (default 2000)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per run (default 900)")
    parser.add_argument("--keep", type=Path, help="keep the runs' folders here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz-attacks-") as scratch:
        folder = args.keep or Path(scratch)
        try:
            print(f"clean run: {POINTS} points x {args.repeats} repeats x {args.frames} frames ...", flush=True)
            clean = run_scenario(folder / "clean", args.frames, args.repeats, [], args.timeout, [])
            if clean.code != 0:
                raise FuzzError(f"the clean run failed (exit code {clean.code}): {clean.stderr[-2000:]}")
            c = Campaign(
                folder / "attacks", folder / "clean" / "out", args.frames, args.repeats, args.timeout, args.quota
            )
            outcomes = run_attacks(c)
        except FuzzError as error:
            print(f"fuzz_attacks: error: {error}", file=sys.stderr)
            return 1
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
