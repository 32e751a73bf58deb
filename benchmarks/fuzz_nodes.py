"""Hostile traffic at a running channel and receiver: a million malformed and foreign messages
during a legitimate run must change no row, crash nothing and keep memory flat.

Run: ``python benchmarks/fuzz_nodes.py [--messages 1000000] [--frames 500] [--repeats 10] [--timeout 3600]
[--quota 2000] [--no-attacks]``.

What it does: the same scenario (jpeg at 0.1 and 0.4 bpp over a bursty channel with 0 and 5 %
loss, synthetic 64×128 frames, the shipped segmenter) is run twice with ``semlink run
--transport zmq`` on free loopback TCP ports: once clean, once while two fuzzer threads push
``--messages`` messages in all at the channel's and the receiver's bound sockets (from one shared
quota: the node that reads faster gets more), from the moment the run starts until it ends.
The kinds, in turn:

- ``random``: random bytes as a socket message (the batch layer rejects them);
- ``random-packet``, ``truncated``, ``bit-flipped``, ``bad-crc``: a batch holding one packet
  that is random bytes, or a valid packet of another run truncated, with bits flipped, or with a
  wrong CRC (the packet decoder rejects them);
- ``foreign-packet``, ``foreign-control``: valid packets (of the run's points and frames) and
  ``point-start``/``point-end``/``end`` messages of another run (the run check rejects them);
- ``many-parts``: a batch of 5,000 tiny packets or one whose header claims 2**32 - 1 parts, once
  every 1,000 messages (the node reads 4,096 packets of the first: it is the costly kind);
- ``multipart``: a ZeroMQ message of 64 parts (dropped whole);
- ``forged-seal``: a batch holding a foreign packet under a seal of the right shape (mark, kind,
  a random sequence number and tag): the seal check rejects it (``bad-mac``);
- ``oversized``: one part just over the sockets' ``MAXMSGSIZE`` (libzmq drops the connection
  from the size header, before buffering), once every 20,000 messages on a socket of its own.

Every socket message between nodes is sealed (:mod:`semlink.wire.seal`): all kinds but
``forged-seal`` and ``multipart`` are now turned away by the seal (``unsealed``) before anything
else reads them; the decoders behind it are fuzzed directly by ``tests/test_properties.py``.

A fuzzer connection the node takes nothing from for 3 s is closed and replaced (counted as
``renewed``; up to its 1,000 queued messages are then never read, so the nodes' own counters are
the figure of what they read). It prints messages sent per kind and per second, what each node
counted (its ``counters:`` log line: rejections by reason), the peak resident memory of each
node in both runs (``VmHWM``, sampled every 0.1 s), the runs' exit codes, and whether the fuzzed
run's rows equal the clean run's in every column but ``rejected`` and ``rejected_by`` (which must
flag the fuzzed points).

Then, unless ``--no-attacks``, the attacks of issue 27 (``benchmarks/fuzz_attacks.py``, which
says what each does and checks), against the same clean run: forged ``End``s before each peer
connects, controls carrying the run id read off the traffic, replayed and stale copies of captured
messages (on-path relays on both hops, ``--quota`` messages of each kind a hop), swapped and
symbolically linked work-cache entries, and two runs into one folder at once; one line each.

Caveats: a ZeroMQ multipart message is held whole by libzmq before the node can read it, so a
peer that can connect can make a node hold a few (the receive high-water mark) multipart
messages of any size; this benchmark's 64 small parts do not test that. The defence is who can
connect: by default nodes talk over ``ipc://`` in a private folder, and between hosts CURVE
admits only key holders (README, "Reliability and security"). Rates depend on the machine's
load: compare the two runs of one invocation only.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import zmq
from bench_transport import network_overrides
from fuzz_attacks import (
    POINTS,
    ROLES,
    Campaign,
    FuzzError,
    RunResult,
    rows_equal,
    run_attacks,
    run_scenario,
)

from semlink.wire import (
    RUN_IDS,
    SEALED,
    WRAPPED,
    End,
    Packet,
    PointEnd,
    PointStart,
    encode_message,
    frame_chunks,
    pack_parts,
)
from semlink.wire.batch import MAX_BATCH_BYTES
from semlink.wire.seal import MARK as SEAL_MARK

OVERSIZED_EVERY = 20_000
MANY_PARTS_EVERY = 1_000
STALLED_S = 3.0
POOL = 1_000


def foreign_packet(rng: random.Random, frames: int) -> Packet:
    """A well-formed packet of another run, aimed at the run's points and frames."""
    chunk = rng.randbytes(rng.randint(1, 300))
    return Packet(
        run_id=rng.randint(*RUN_IDS),
        point=rng.randrange(POINTS),
        frame=rng.randrange(frames),
        stream="image",
        chunk_first=0,
        chunk_count=1,
        frag=0,
        frag_count=1,
        t_us=rng.randrange(10**7),
        payload=frame_chunks([chunk], 1),
    )


def encoded(rng: random.Random, frames: int) -> bytes:
    """A foreign packet's bytes."""
    return encode_message(foreign_packet(rng, frames))


def truncated(rng: random.Random, frames: int) -> bytes:
    """A foreign packet cut short."""
    data = encoded(rng, frames)
    return data[: rng.randrange(len(data))]


def bit_flipped(rng: random.Random, frames: int) -> bytes:
    """A foreign packet with 1 to 8 bits flipped."""
    data = bytearray(encoded(rng, frames))
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(8 * len(data))
        data[position // 8] ^= 1 << (position % 8)
    return bytes(data)


def bad_crc(rng: random.Random, frames: int) -> bytes:
    """A foreign packet whose CRC does not match."""
    data = bytearray(encoded(rng, frames))
    data[-1] ^= rng.randint(1, 255)
    return bytes(data)


def foreign_control(rng: random.Random, frames: int) -> bytes:
    """A control message of another run."""
    run, point = rng.randint(*RUN_IDS), rng.randrange(POINTS)
    message = rng.choice(
        [
            PointStart(run, point, "key", frames),
            PointEnd(run, point, "key", 0, 0, 0, (), (), ()),
            End(run),
        ]
    )
    return encode_message(message)


def claimed_parts(rng: random.Random, frames: int) -> list[bytes]:
    """A batch of 5,000 tiny packets, or one whose array header claims 2**32 - 1 parts."""
    if rng.random() < 0.5:
        return [msgpack.packb([b"x"] * 5000, use_bin_type=True)]
    return [b"\xdd\xff\xff\xff\xff" + msgpack.packb(b"abc") * 3]


def one_packet(make: Callable[[random.Random, int], bytes]) -> Callable[[random.Random, int], list[bytes]]:
    """A socket message holding one packet made by ``make``."""
    return lambda rng, frames: [pack_parts([make(rng, frames)])]


def forged_seal(rng: random.Random, frames: int) -> list[bytes]:
    """A foreign packet's batch under a seal of the right shape with a random number and tag."""
    head = bytes((SEAL_MARK, rng.choice((SEALED, WRAPPED)))) + rng.randbytes(8 + 16)
    return [head + pack_parts([encoded(rng, frames)])]


RARE_KINDS: dict[str, Callable[[random.Random, int], list[bytes]]] = {"many-parts": claimed_parts}
KINDS: dict[str, Callable[[random.Random, int], list[bytes]]] = {
    "random": lambda rng, frames: [rng.randbytes(rng.randint(0, 1500))],
    "random-packet": one_packet(lambda rng, frames: rng.randbytes(rng.randint(0, 1500))),
    "truncated": one_packet(truncated),
    "bit-flipped": one_packet(bit_flipped),
    "bad-crc": one_packet(bad_crc),
    "foreign-packet": one_packet(encoded),
    "foreign-control": one_packet(foreign_control),
    "multipart": lambda rng, frames: [rng.randbytes(16) for _ in range(64)],
    "forged-seal": forged_seal,
}


class Quota:
    """Messages left to send, shared by the fuzzers."""

    def __init__(self, messages: int) -> None:
        self.left = messages
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take one message's worth; False once none is left."""
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def give_back(self) -> None:
        """Return one message that was not sent after all."""
        with self._lock:
            self.left += 1


@dataclass
class Fuzzer:
    """Pushes hostile messages at one bound address from a thread until its quota or a stop.

    :param address: the node's bound address. :param quota: messages left to send, shared.
    :param frames: frames per point. :param seed: the traffic's random stream.
    """

    address: str
    quota: Quota
    frames: int
    seed: int
    sent: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    renewed: Counter[str] = field(default_factory=Counter)
    """Connections replaced, by line (``main``: every kind but ``oversized``; ``big``: ``oversized``)."""

    def run(self, stop: threading.Event) -> None:
        """Send until the quota is met or ``stop`` is set (the run ended)."""
        rng = random.Random(self.seed)
        makers = {**KINDS, **RARE_KINDS}
        pools = {kind: [make(rng, self.frames) for _ in range(POOL)] for kind, make in makers.items()}
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._socks = {"main": self._connected(), "big": self._connected()}
        oversized = rng.randbytes(MAX_BATCH_BYTES + 1024)
        kinds = list(KINDS)
        started, total = time.perf_counter(), 0
        try:
            while not stop.is_set() and self.quota.take():
                if total % OVERSIZED_EVERY == OVERSIZED_EVERY - 1:
                    kind, line, parts = "oversized", "big", [oversized]
                else:
                    rare = total % MANY_PARTS_EVERY == MANY_PARTS_EVERY - 2
                    kind = "many-parts" if rare else kinds[total % len(kinds)]
                    line, parts = "main", pools[kind][(total // len(kinds)) % POOL]
                if not self._send(line, parts, stop):
                    self.quota.give_back()
                    break
                self.sent[kind] += 1
                total += 1
        finally:
            self.seconds = time.perf_counter() - started
            for sock in self._socks.values():
                sock.close()
            self._context.term()

    def _connected(self) -> zmq.Socket[bytes]:
        """A fresh PUSH socket connected to the node."""
        sock = self._context.socket(zmq.PUSH)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.connect(self.address)
        return sock

    def _send(self, line: str, parts: list[bytes], stop: threading.Event) -> bool:
        """Send one message on ``line``, waiting while the node is busy; False if stopped first.

        A connection the node has taken nothing from for :data:`STALLED_S` is replaced by a new
        one (counted in ``renewed``): the campaign goes on whatever one connection's fate.
        """
        waited_since = time.perf_counter()
        while not stop.is_set():
            sock = self._socks[line]
            if sock.poll(100, zmq.POLLOUT):
                sock.send_multipart(parts, copy=False)
                return True
            if time.perf_counter() - waited_since > STALLED_S:
                sock.close()
                self._socks[line] = self._connected()
                self.renewed[line] += 1
                waited_since = time.perf_counter()
        return False


def listing(counts: dict[str, int]) -> str:
    """``name count, ...`` in name order."""
    return ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items()))


def report(clean: RunResult, fuzzed: RunResult, fuzzers: list[Fuzzer]) -> bool:
    """Print the figures; True if the fuzzed run came through unchanged."""
    sent: Counter[str] = Counter()
    for fuzzer in fuzzers:
        sent.update(fuzzer.sent)
    total = sum(sent.values())
    seconds = max(f.seconds for f in fuzzers)
    print(f"messages sent: {total:,} in {seconds:.0f} s = {total / max(seconds, 1e-9):,.0f} messages/s")
    for fuzzer, name in zip(fuzzers, ("channel", "receiver"), strict=True):
        renewed = f"{sum(fuzzer.renewed.values())} ({listing(fuzzer.renewed) or 'none'})"
        print(f"  at the {name}: {sum(fuzzer.sent.values()):,} ({listing(fuzzer.sent)}); connections renewed after "
              f"{STALLED_S:g} s without progress: {renewed}")  # fmt: skip
    for role in ("channel", "receiver"):
        counted = fuzzed.counters.get(role, {})
        rejected = {k: v for k, v in counted.items() if k.startswith(("dropped:", "rejected:"))}
        print(f"{role} counted {sum(rejected.values()):,} rejections: {listing(rejected)}")
    for role in ROLES:
        print(
            f"peak memory of the {role}: clean {clean.peak_mb.get(role, 0):.0f} MB, "
            f"fuzzed {fuzzed.peak_mb.get(role, 0):.0f} MB"
        )
    print(
        f"exit codes: clean {clean.code}, fuzzed {fuzzed.code}; "
        f"run time: clean {clean.seconds:.0f} s, fuzzed {fuzzed.seconds:.0f} s"
    )
    equal, why = rows_equal(clean.rows, fuzzed.rows)
    flagged = sum(1 for row in fuzzed.rows if row.get("rejected") not in ("", "0", None))
    print(f"rows: {why}; {flagged} of {len(fuzzed.rows)} fuzzed rows flagged as having seen rejected traffic")
    return clean.code == 0 and fuzzed.code == 0 and equal and len(clean.rows) == POINTS


def main() -> int:
    """Run clean, run fuzzed, print the comparison; 0 when the fuzzed run came through unchanged."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000, help="hostile messages in all (default 1,000,000)")
    parser.add_argument("--frames", type=int, default=500, help="frames per point and repeat (default and most: 500)")
    parser.add_argument("--repeats", type=int, default=10, help="repeats of each point (default 10)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per run (default 3600)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the hostile traffic (default 0)")
    parser.add_argument("--keep", type=Path, help="keep both runs' folders (scenario, results, node logs) here")
    parser.add_argument("--attacks", action=argparse.BooleanOptionalAction, default=True,
                        help="then run the attacks of benchmarks/fuzz_attacks.py (default: yes)")  # fmt: skip
    parser.add_argument("--quota", type=int, default=2000, help="attack messages per kind and hop (default 2000)")
    args = parser.parse_args()
    if args.messages < 2 or not 1 <= args.frames <= 500 or args.repeats < 1 or args.timeout <= 0:
        parser.error(
            "--messages must be at least 2, --frames 1 to 500 (the val split), --repeats and --timeout positive"
        )
    with tempfile.TemporaryDirectory(prefix="fuzz-nodes-") as scratch:
        temp = args.keep or Path(scratch)
        try:
            clean_net = network_overrides()
            print(f"clean run: {POINTS} points x {args.repeats} repeats x {args.frames} frames ...", flush=True)
            clean = run_scenario(Path(temp) / "clean", args.frames, args.repeats, clean_net, args.timeout, [])
            if clean.code != 0:
                raise FuzzError(f"the clean run failed (exit code {clean.code}); its stderr:\n{clean.stderr[-3000:]}")
            net = network_overrides()
            channel, receiver = (
                o.split("=", 1)[1] for o in net if o.startswith(("network.channel_bind", "network.receiver_bind"))
            )
            quota = Quota(args.messages)
            fuzzers = [
                Fuzzer(channel, quota, args.frames, args.seed),
                Fuzzer(receiver, quota, args.frames, args.seed + 1),
            ]
            print(f"fuzzed run: {args.messages:,} hostile messages at {channel} and {receiver} ...", flush=True)
            fuzzed = run_scenario(Path(temp) / "fuzzed", args.frames, args.repeats, net, args.timeout, fuzzers)
        except FuzzError as error:
            print(f"fuzz_nodes: error: {error}", file=sys.stderr)
            return 1
        if fuzzed.code != 0:
            print(f"the fuzzed run failed; its stderr:\n{fuzzed.stderr[-3000:]}", file=sys.stderr)
        delivered = sum(sum(f.sent.values()) for f in fuzzers)
        ok = report(clean, fuzzed, fuzzers)
        if delivered < args.messages:
            print(f"only {delivered:,} of {args.messages:,} messages went out before the run ended: raise --repeats")
        if args.attacks:
            campaign = Campaign(Path(temp) / "attacks", Path(temp) / "clean" / "out", args.frames, args.repeats,
                                args.timeout, args.quota, args.seed)  # fmt: skip
            try:
                ok = all([o.ok for o in run_attacks(campaign)]) and ok
            except FuzzError as error:
                print(f"fuzz_nodes: error: {error}", file=sys.stderr)
                return 1
    return 0 if ok and delivered >= args.messages else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
