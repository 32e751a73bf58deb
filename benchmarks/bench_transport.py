"""Frames/s of ``semlink run`` with the zmq transport (three processes) against inproc (one process).

Run: ``python benchmarks/bench_transport.py [--frames 8] [--scenario scenarios/quickstart.yaml]
[--set KEY=VALUE ...] [--timeout 900]``.

What it measures: the same scenario is run twice as subprocesses, ``semlink run SCENARIO --transport
inproc`` and then ``--transport zmq``, each into its own temporary folder, with ``--frames`` frames per
point and the four ``network.*`` addresses set to free loopback ports (so the run never collides
with anything else listening). Each run is timed by the wall clock of the whole command; the frames
it processed are the sum of the ``frames`` column of its ``results.csv`` (points x frames). It prints
frames/s of each, the ratio zmq/inproc (the goal is >= 0.8), and whether the two ``results.csv`` are
byte-identical (they should be: time in a run is simulated, so the transport must not change a number).

Caveats: each run includes process start-up, imports and model loading (once for inproc, in each of
the three nodes for zmq), which small ``--frames`` makes a large share of the time, so the ratio at
the default understates zmq; raise ``--frames`` for a steadier number. Everything is measured in this
one run on a possibly busy machine: compare the ratio, not the absolute rates. Extra ``--set``
overrides (e.g. ``--set channel.loss=[0.0]`` for fewer points) go to both runs. The runs need the
shipped segmenter checkpoint of the data's label set, or another one given with ``--set segmenter=...``.
"""

from __future__ import annotations

import argparse
import csv
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
GOAL = 0.8
QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"
TRANSPORTS = ("inproc", "zmq")


class BenchError(RuntimeError):
    """A run failed, timed out or wrote no results."""


@dataclass(frozen=True)
class Timed:
    """One run of ``semlink run``.

    :param transport: ``inproc`` or ``zmq``. :param seconds: wall clock of the whole command.
    :param frames: frames processed (sum of ``frames`` in ``results.csv``). :param csv_path: its results.
    """

    transport: str
    seconds: float
    frames: int
    csv_path: Path

    @property
    def rate(self) -> float:
        """Frames per second."""
        return self.frames / max(self.seconds, 1e-9)


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bound to port 0 by a throwaway socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def network_overrides() -> list[str]:
    """``--set`` values putting the channel and receiver on two distinct free loopback ports."""
    channel = free_port()
    receiver = free_port()
    while receiver == channel:
        receiver = free_port()
    return [
        f"network.channel_bind=tcp://{LOOPBACK}:{channel}",
        f"network.channel_connect=tcp://{LOOPBACK}:{channel}",
        f"network.receiver_bind=tcp://{LOOPBACK}:{receiver}",
        f"network.receiver_connect=tcp://{LOOPBACK}:{receiver}",
    ]


def count_frames(path: Path) -> int:
    """Frames processed in a run: the sum of the ``frames`` column of its ``results.csv``."""
    with path.open(newline="") as handle:
        return sum(int(row["frames"]) for row in csv.DictReader(handle))


def run_once(transport: str, scenario: Path, frames: int, overrides: list[str], out: Path, timeout_s: float) -> Timed:
    """Run ``semlink run`` once as a subprocess and time it; :class:`BenchError` if it fails or hangs."""
    command = [sys.executable, "-m", "semlink.cli", "run", str(scenario), "--transport", transport]
    command += ["--frames", str(frames), "--out", str(out)]
    for override in overrides:
        command += ["--set", override]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise BenchError(f"the {transport} run took longer than {timeout_s:g} s (--timeout)") from None
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"the {transport} run exited with code {done.returncode}; its stderr:\n{done.stderr[-4000:]}")
    csv_path = out / "results.csv"
    if not csv_path.is_file():
        raise BenchError(f"the {transport} run wrote no {csv_path}; its stderr:\n{done.stderr[-4000:]}")
    return Timed(transport, seconds, count_frames(csv_path), csv_path)


def differences(a: Path, b: Path) -> str:
    """How two ``results.csv`` differ: which rows and columns, and the first differing values."""
    with a.open(newline="") as left_handle, b.open(newline="") as right_handle:
        left, right = list(csv.DictReader(left_handle)), list(csv.DictReader(right_handle))
    if len(left) != len(right):
        return f"{len(left)} rows (inproc) against {len(right)} (zmq)"
    pairs = [(number, x, y) for number, (x, y) in enumerate(zip(left, right, strict=True), start=1) if x != y]
    if not pairs:
        return "same values, different bytes (header, quoting or line endings)"
    columns = sorted({c for _, x, y in pairs for c in x.keys() | y.keys() if x.get(c) != y.get(c)})
    number, x, y = pairs[0]
    first = ", ".join(f"{c} {x.get(c)} against {y.get(c)}" for c in columns if x.get(c) != y.get(c))
    return (
        f"{len(pairs)} of {len(left)} rows differ, in columns {', '.join(columns)}; "
        f"first: data row {number}, inproc against zmq: {first}"
    )


def main() -> int:
    """Run both transports, print frames/s, the ratio and whether the results are identical."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8, help="frames per point (default 8)")
    parser.add_argument("--scenario", type=Path, default=QUICKSTART, help="scenario YAML (default quickstart)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra scenario override for both runs (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per run (default 900)")
    args = parser.parse_args()
    if args.frames < 1 or args.timeout <= 0:
        parser.error("--frames and --timeout must be positive")
    overrides = [*args.overrides, *network_overrides()]
    print(f"scenario {args.scenario}, {args.frames} frames per point, overrides: {' '.join(overrides)}")
    runs: dict[str, Timed] = {}
    with tempfile.TemporaryDirectory(prefix="bench-transport-") as temp:
        try:
            for transport in TRANSPORTS:
                timed = run_once(transport, args.scenario, args.frames, overrides, Path(temp) / transport, args.timeout)
                runs[transport] = timed
                print(f"{transport}: {timed.frames} frames in {timed.seconds:.1f} s = {timed.rate:.2f} frames/s")
        except BenchError as error:
            print(f"bench_transport: error: {error}", file=sys.stderr)
            return 1
        inproc, zmq = runs["inproc"], runs["zmq"]
        identical = inproc.csv_path.read_bytes() == zmq.csv_path.read_bytes()
        print(f"results.csv byte-identical: {'yes' if identical else 'no'}")
        if not identical:
            print(differences(inproc.csv_path, zmq.csv_path))
    ratio = zmq.rate / max(inproc.rate, 1e-9)
    verdict = "meets" if ratio >= GOAL else "misses"
    print(f"ratio zmq/inproc: {ratio:.3f} ({verdict} the goal of >= {GOAL}; start-up included, see --help)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
