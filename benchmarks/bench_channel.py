"""Packets/s through the ``semlink channel`` node against a bare pyzmq PULL->PUSH relay, on loopback TCP.

Run: ``python benchmarks/bench_channel.py [--packets 50000] [--per-message 20] [--payload 1200]
[--hwm 1000] [--timeout 120]``.

What it measures: the benchmark writes a one-point scenario (ideal channel, no impairments) into a
temporary folder, starts the real channel node as a child process (``python -m semlink.cli channel
SCENARIO --set network...`` on free loopback ports) and drives it the way the transmitter does: a
``point-start`` control message carrying the point's key, then data messages, each one socket
message of encoded :class:`semlink.wire.Packet` s (by default 20 packets of 1200 payload bytes, like
one frame), then ``point-end`` and ``end``, every message sealed with the run's transmitter key
(:mod:`semlink.wire.seal`: a sequence number and a keyed MAC, as the transmitter node sends them).
A PULL socket bound where the channel's ``receiver_connect`` points counts the packets that come
out (after the timing, it checks the seals of the last message: the channel's, and the
transmitter's inside it). The same traffic then goes through a bare relay in a child process (a few
lines of pyzmq that forward every message unchanged, polling like the node loop does). Each phase
is timed from the first data message sent to the last data packet received, after a handshake
(the ``point-start`` went through), so process start-up is not counted; the messages are sealed
before, as they are encoded (a transmitter's work, not a relay's).

It prints packets/s of both and the ratio channel/bare (the goal is >= 0.7), all measured in this
one run: the machine is shared, so compare only the ratio, and only within one run. Every socket has
explicit high-water marks, every wait is a bounded poll, each phase has an overall timeout, and a
child that dies is reported with its stderr.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
import zmq

from semlink.scenario.loading import load_scenario
from semlink.scenario.sweep import points
from semlink.study.trials import RUN_ID_ENV
from semlink.wire import (
    RUN_IDS,
    WRAPPED,
    End,
    Opener,
    Packet,
    PointEnd,
    PointStart,
    Sealed,
    Sealer,
    WireError,
    decode_message,
    encode_message,
    pack_parts,
    read_seal,
    run_keys,
    unpack_parts,
)

LOOPBACK = "127.0.0.1"
POLL_MS = 100
SECRET = RUN_IDS[0] + 1
"""The run's secret, handed to the channel node in ``SEMLINK_RUN_ID``."""
KEYS = run_keys(SECRET)
RUN_ID = KEYS.run_id
FRAME_INTERVAL_US = 100_000
PAYLOAD_POOL = 64
GOAL = 0.7

# The bare relay: forwards every message unchanged, polling before each receive and send
# like the node loops do, and exits after ``idle_ms`` without traffic (so it never outlives a crash).
RELAY = """
import sys
import zmq

inbound, outbound, hwm, idle_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
context = zmq.Context()
pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
for sock in (pull, push):
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.LINGER, idle_ms)
pull.bind(inbound)
push.connect(outbound)
while pull.poll(idle_ms, zmq.POLLIN):
    parts = pull.recv_multipart()
    if not push.poll(idle_ms, zmq.POLLOUT):
        break
    push.send_multipart(parts)
pull.close()
push.close()
context.term()
"""


class BenchError(RuntimeError):
    """The benchmark could not measure (a child died, a timeout passed, packets went missing)."""


@dataclass(frozen=True)
class Traffic:
    """Pre-encoded, sealed socket messages of one point, in sending order.

    :param start: the ``point-start`` message. :param data: the data messages (a frame's packets each).
    :param end: ``point-end`` then ``end``. :param packets: packets in ``data``.
    :param last: the last data message before it was sealed.
    """

    start: bytes
    data: list[bytes]
    end: list[bytes]
    packets: int
    last: bytes


@dataclass(frozen=True)
class Measurement:
    """One phase's result.

    :param packets: data packets received. :param seconds: first data sent to last data received.
    :param same_bytes: whether the last data message's packets came out byte-identical to what went in.
    :param sealed: whether its seals held (the channel's and the transmitter's, or the transmitter's alone).
    """

    packets: int
    seconds: float
    same_bytes: bool
    sealed: bool

    @property
    def rate(self) -> float:
        """Packets per second."""
        return self.packets / max(self.seconds, 1e-9)


class Child:
    """A child process whose stderr goes to a log file, stopped for sure by :meth:`stop`.

    :param name: what to call it in messages. :param command: the command line. :param log: stderr file.
    """

    def __init__(self, name: str, command: list[str], log: Path) -> None:
        self.name, self.log = name, log
        with log.open("w") as handle:
            environment = {**os.environ, RUN_ID_ENV: str(SECRET)}  # the channel takes this run's traffic
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=handle, env=environment
            )

    def stderr(self) -> str:
        """What the child wrote on stderr so far (its last 4000 characters)."""
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no stderr log)"

    def check(self) -> None:
        """Raise :class:`BenchError` with the child's stderr if it has exited."""
        code = self.process.poll()
        if code is not None:
            raise BenchError(f"the {self.name} exited early with code {code}; its stderr:\n{self.stderr()}")

    def wait_exit(self, timeout_s: float) -> int | None:
        """The exit code once the child exits on its own, or None after ``timeout_s``."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Terminate, wait up to 5 s, then kill (no-op for a child that already exited)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bound to port 0 by a throwaway socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def tcp(port: int) -> str:
    """The ZeroMQ address of a loopback port."""
    return f"tcp://{LOOPBACK}:{port}"


def write_scenario(folder: Path, hwm: int, timeout_s: float) -> Path:
    """A one-point scenario: identity codec, ideal channel; network addresses come from ``--set``."""
    scenario = {
        "name": "bench-channel",
        "seed": 0,
        "data": {"source": "synthetic", "frames": 1},
        "codecs": [{"name": "identity"}],
        "channel": {"model": "ideal"},
        "network": {"hwm": hwm, "peer_timeout_s": timeout_s},
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def make_traffic(key: str, packets: int, per_message: int, payload: int) -> Traffic:
    """Encode the point's messages once, before any timing: ``packets`` packets, ``per_message`` a message."""
    maker = random.Random(0)
    pool = [maker.randbytes(payload) for _ in range(PAYLOAD_POOL)]
    data: list[list[bytes]] = []
    for first in range(0, packets, per_message):
        frame = len(data)
        count = min(per_message, packets - first)
        data.append(
            [
                encode_message(
                    Packet(
                        RUN_ID, 0, frame, "image", chunk, 1, 0, 1, frame * FRAME_INTERVAL_US, pool[chunk % PAYLOAD_POOL]
                    )
                )
                for chunk in range(count)
            ]
        )
    start = [encode_message(PointStart(RUN_ID, 0, key, len(data)))]
    frame_packets = tuple(len(parts) for parts in data)
    bits = tuple(8 * payload * n for n in frame_packets)
    totals = PointEnd(RUN_ID, 0, key, packets, sum(bits), sum(bits), frame_packets, bits, ({},) * len(data))
    end = [[encode_message(totals)], [encode_message(End(RUN_ID))]]
    sealer = Sealer(KEYS.transmitter)  # sealed in sending order: the numbers must go up
    sealed_start = sealer.seal(pack_parts(start))
    sealed_data = [sealer.seal(pack_parts(parts)) for parts in data]
    sealed_end = [sealer.seal(pack_parts(parts)) for parts in end]
    return Traffic(sealed_start, sealed_data, sealed_end, packets, pack_parts(data[-1]))


def innermost(message: bytes) -> Sealed:
    """The transmitter's seal of a message that came out (inside the channel's, or alone from the bare relay)."""
    sealed = read_seal(message)
    return sealed.inner() if sealed.kind == WRAPPED else sealed


def parts_of(message: bytes) -> list[bytes]:
    """The packets of a sealed message that came out (seals not checked: see :func:`seals_hold`)."""
    return unpack_parts(innermost(message).body).parts


def seals_hold(message: bytes, key: bytes) -> bool:
    """Whether a message that came out carries valid seals: the last sender's under ``key`` (the
    channel's, or the transmitter's through the bare relay), and the transmitter's inside a wrapped one."""
    sealed = read_seal(message)
    if Opener(key).problem(sealed) is not None:
        return False
    return sealed.kind != WRAPPED or Opener(KEYS.transmitter).problem(sealed.inner()) is None


def control_kind(message: bytes) -> str | None:
    """The kind of a sealed single-part control message, else None."""
    try:
        parts = parts_of(message)
        if len(parts) != 1:
            return None
        decoded = decode_message(parts[0]).message
    except WireError:
        return None
    return None if isinstance(decoded, Packet) else decoded.kind


def make_socket(context: zmq.Context[zmq.Socket[bytes]], kind: int, hwm: int) -> zmq.Socket[bytes]:
    """A socket with explicit high-water marks and no linger."""
    sock = context.socket(kind)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.LINGER, 0)
    return sock


def send_by(sock: zmq.Socket[bytes], message: bytes, child: Child, deadline: float, what: str) -> None:
    """Send one message, polling until the peer takes it; :class:`BenchError` past ``deadline``."""
    while not sock.poll(POLL_MS, zmq.POLLOUT):
        child.check()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out sending {what} to the {child.name}")
    sock.send(message)


def wait_for(sock: zmq.Socket[bytes], kind: str, child: Child, deadline: float) -> None:
    """Receive until a ``kind`` control message arrives; :class:`BenchError` past ``deadline``."""
    while True:
        if sock.poll(POLL_MS, zmq.POLLIN):
            if control_kind(sock.recv()) == kind:
                return
            continue
        child.check()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {kind!r} to come out of the {child.name}")


def pump(
    push: zmq.Socket[bytes], pull: zmq.Socket[bytes], traffic: Traffic, child: Child, deadline: float, key: bytes
) -> Measurement:
    """Send every data message while receiving, in one poll loop; time first send to last packet
    received; ``key``: the last sender's (see :func:`seals_hold`)."""
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(push, zmq.POLLOUT)
    sent = received = 0
    last = b""
    packed = traffic.data  # one sealed socket message a frame, as the transmitter node sends
    started = time.perf_counter()
    next_check = time.monotonic() + 0.5
    while received < traffic.packets:
        events = dict(poller.poll(POLL_MS))
        if push in events:
            while sent < len(traffic.data):
                try:
                    push.send(packed[sent], zmq.NOBLOCK)
                except zmq.Again:
                    break
                sent += 1
            if sent == len(traffic.data):
                poller.unregister(push)
        if pull in events:
            while received < traffic.packets:
                try:
                    last = pull.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                received += len(parts_of(last))
        now = time.monotonic()
        if now > next_check or not events:
            child.check()
            if now > deadline:
                raise BenchError(
                    f"timed out: {sent} of {len(traffic.data)} messages sent, "
                    f"{received} of {traffic.packets} packets received through the {child.name}"
                )
            next_check = now + 0.5
    seconds = time.perf_counter() - started
    if received != traffic.packets or sent != len(traffic.data):
        raise BenchError(f"{received} packets came out of the {child.name} for {traffic.packets} sent")
    same = bytes(innermost(last).body) == traffic.last
    return Measurement(received, seconds, same, seals_hold(last, key))


def drive(
    child: Child, inbound: str, pull: zmq.Socket[bytes], traffic: Traffic, args: argparse.Namespace, key: bytes
) -> Measurement:
    """Handshake (``point-start`` through), timed data, then ``point-end`` and ``end`` through;
    ``key``: the key of the child's seals (the channel's, or the transmitter's through the bare relay)."""
    hwm, timeout_s = args.hwm, args.timeout
    deadline = time.monotonic() + timeout_s
    context = zmq.Context.instance()
    push = make_socket(context, zmq.PUSH, hwm)
    try:
        push.connect(inbound)
        send_by(push, traffic.start, child, deadline, "point-start")
        wait_for(pull, "point-start", child, deadline)
        measured = pump(push, pull, traffic, child, deadline, key)
        for message in traffic.end:
            send_by(push, message, child, deadline, control_kind(message) or "a control message")
        wait_for(pull, "end", child, deadline)
    finally:
        push.close()
    return measured


def bench_channel(folder: Path, traffic: Traffic, scenario: Path, args: argparse.Namespace) -> Measurement:
    """The real channel node between the benchmark's PUSH and PULL sockets."""
    context = zmq.Context.instance()
    pull = make_socket(context, zmq.PULL, args.hwm)
    child: Child | None = None
    try:
        out_port = pull.bind_to_random_port(f"tcp://{LOOPBACK}")
        in_port = free_port()
        network = [
            f"network.channel_bind={tcp(in_port)}",
            f"network.channel_connect={tcp(in_port)}",
            f"network.receiver_bind={tcp(out_port)}",
            f"network.receiver_connect={tcp(out_port)}",
        ]
        command = [sys.executable, "-m", "semlink.cli", "channel", str(scenario)]
        for override in network:
            command += ["--set", override]
        child = Child("semlink channel node", command, folder / "channel.log")
        measured = drive(child, tcp(in_port), pull, traffic, args, KEYS.channel)
        code = child.wait_exit(10.0)
        if code != 0:
            print(f"warning: the channel node ended with {code} after 'end'; its stderr:\n{child.stderr()}")
        return measured
    finally:
        if child is not None:
            child.stop()
        pull.close()


def bench_bare(folder: Path, traffic: Traffic, args: argparse.Namespace) -> Measurement:
    """The same traffic through a bare pyzmq relay child process."""
    context = zmq.Context.instance()
    pull = make_socket(context, zmq.PULL, args.hwm)
    child: Child | None = None
    try:
        out_port = pull.bind_to_random_port(f"tcp://{LOOPBACK}")
        in_port = free_port()
        idle_ms = str(round(args.timeout * 1000))
        command = [sys.executable, "-c", RELAY, tcp(in_port), tcp(out_port), str(args.hwm), idle_ms]
        child = Child("bare pyzmq relay", command, folder / "relay.log")
        return drive(child, tcp(in_port), pull, traffic, args, KEYS.transmitter)
    finally:
        if child is not None:
            child.stop()
        pull.close()


def report(name: str, measured: Measurement) -> None:
    """Print one phase's line."""
    same = "yes" if measured.same_bytes else "no"
    sealed = "yes" if measured.sealed else "no"
    print(
        f"{name}: {measured.packets} packets in {measured.seconds:.2f} s = {measured.rate:,.0f} packets/s "
        f"(last message's packets byte-identical to its input: {same}; its seals hold: {sealed})"
    )


def main() -> int:
    """Measure both, print packets/s and the ratio; exit 1 with a message if a phase fails."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=50_000, help="data packets per phase (default 50000)")
    parser.add_argument("--per-message", type=int, default=20, help="packets per message, like a frame (default 20)")
    parser.add_argument("--payload", type=int, default=1200, help="payload bytes per packet (default 1200)")
    parser.add_argument("--hwm", type=int, default=1000, help="high-water mark of every socket (default 1000)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per phase (default 120)")
    args = parser.parse_args()
    if args.packets < 1 or args.per_message < 1 or args.payload < 1 or args.hwm < 1 or args.timeout <= 0:
        parser.error("--packets, --per-message, --payload, --hwm and --timeout must be positive")
    with tempfile.TemporaryDirectory(prefix="bench-channel-") as temp:
        folder = Path(temp)
        scenario = write_scenario(folder, args.hwm, args.timeout)
        key = points(load_scenario(scenario))[0].key
        traffic = make_traffic(key, args.packets, args.per_message, args.payload)
        print(
            f"{traffic.packets} packets of {args.payload} payload bytes "
            f"({len(unpack_parts(traffic.last).parts[0])} on the wire) in {len(traffic.data)} sealed "
            f"messages of up to {args.per_message} ({len(traffic.data[0])} bytes), HWM {args.hwm}"
        )
        try:
            channel = bench_channel(folder, traffic, scenario, args)
            report("semlink channel node", channel)
            bare = bench_bare(folder, traffic, args)
            report("bare pyzmq relay", bare)
        except BenchError as error:
            print(f"bench_channel: error: {error}", file=sys.stderr)
            return 1
    ratio = channel.rate / max(bare.rate, 1e-9)
    verdict = "meets" if ratio >= GOAL else "misses"
    print(f"ratio channel/bare: {ratio:.3f} ({verdict} the goal of >= {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
