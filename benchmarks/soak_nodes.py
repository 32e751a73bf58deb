"""A long run over ZeroMQ: 10,000 frames through the three nodes, with each node's memory sampled.

Run: ``python benchmarks/soak_nodes.py [--frames 10000] [--points 20] [--interval 1.0]``.

What it does: ``semlink run --transport zmq`` of jpeg at 0.2 bpp over a bursty channel whose
loss takes ``--points`` values from 0 % in steps of 1 %, ``--frames`` frames in all (split evenly
over the points; the synthetic val split has 500 frames, so at most 500 a point), synthetic
64×128 frames and the shipped segmenter. Every ``--interval`` seconds it reads the resident
memory (``VmRSS``) of the transmitter, the channel and the receiver. Warm-up ends when the first
point is done (models loaded, buffers at their working size); growth is the highest RSS after
that over the median of the samples of the first point after warm-up, per node. Goal: growth at
most 5 % for each node. It also prints frames/s and the run's exit code.

Caveats: RSS moves with the allocator, so a growth of a few MB on 400 MB is noise; what this
would catch is a leak per frame or per point (e.g. 1 kB a frame is 10 MB over the run).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fuzz_attacks import ROLES, NodeMemory

GOAL = 0.05
SCENARIO = """\
name: soak
seed: 3
data: {{source: synthetic, split: val, frames: {frames}, size: [64, 128]}}
codecs:
  - {{name: jpeg, target_bpp: [0.2]}}
channel: {{model: gilbert_elliott, loss: [{losses}], burst: 2}}
link: {{mtu: 1200, fps: 10, deadline_ms: 100}}
transport: zmq
"""


def first_point_done(results: Path, started: float) -> float | None:
    """Seconds since ``started`` at which ``results`` first held a row, polled by the caller."""
    if results.is_file() and results.read_text().count("\n") >= 2:
        return time.perf_counter() - started
    return None


def growth(samples: list[tuple[float, float]], warm_s: float, settle_s: float) -> tuple[float, float, float]:
    """(baseline MB, peak MB after warm-up, growth) of one node's samples."""
    after = [mb for t, mb in samples if t >= warm_s]
    early = [mb for t, mb in samples if warm_s <= t < warm_s + settle_s] or after[:5]
    if not after or not early:
        return float("nan"), float("nan"), float("nan")
    baseline = statistics.median(early)
    peak = max(after)
    return baseline, peak, peak / baseline - 1


def main() -> int:
    """Run the soak and print each node's memory growth; 0 when every node meets the goal."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000, help="frames in all (default 10,000)")
    parser.add_argument("--points", type=int, default=20, help="points they are split over (default 20)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between memory samples (default 1)")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds allowed (default 7200)")
    args = parser.parse_args()
    if args.frames < args.points or args.points < 2 or args.interval <= 0:
        parser.error("--points must be at least 2 and at most --frames; --interval positive")
    per_point = args.frames // args.points
    losses = ", ".join(f"{i / 100:g}" for i in range(args.points))
    with tempfile.TemporaryDirectory(prefix="soak-nodes-") as temp:
        scenario, out = Path(temp) / "scenario.yaml", Path(temp) / "out"
        scenario.write_text(SCENARIO.format(frames=per_point, losses=losses))
        command = [sys.executable, "-m", "semlink.cli", "run", str(scenario), "--out", str(out)]
        print(f"soak: {args.points} points x {per_point} frames over ZeroMQ ...", flush=True)
        warm_s: float | None = None
        with NodeMemory(str(out), "VmRSS", args.interval) as series:
            run = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = series.started + args.timeout
            while run.poll() is None and time.perf_counter() < deadline:
                warm_s = warm_s or first_point_done(out / "results.csv", series.started)
                time.sleep(0.5)
            if run.poll() is None:
                run.kill()
                print(f"soak_nodes: error: the run took longer than {args.timeout:g} s (--timeout)", file=sys.stderr)
                return 1
            stderr = run.stderr.read().decode(errors="replace") if run.stderr else ""
        seconds = time.perf_counter() - series.started
        rows = list(csv.DictReader((out / "results.csv").open(newline=""))) if (out / "results.csv").is_file() else []
    frames = sum(int(row["frames"]) for row in rows)
    rate = frames / max(seconds, 1e-9)
    print(
        f"exit code {run.returncode}; {frames:,} frames in {len(rows)} points in {seconds:.0f} s = {rate:.1f} frames/s"
    )
    if frames != per_point * args.points:
        print(
            f"soak_nodes: ran {frames:,} frames, not {per_point * args.points:,}: at most 500 a point (raise --points)"
        )
    if run.returncode != 0 or warm_s is None:
        print(f"the run failed; its stderr:\n{stderr[-3000:]}", file=sys.stderr)
        return 1
    settle_s = max(10 * args.interval, (seconds - warm_s) / args.points)
    ok = True
    for role in ROLES:
        baseline, peak, grown = growth(series.samples.get(role, []), warm_s, settle_s)
        verdict = "meets" if grown <= GOAL else "misses"
        ok = ok and grown <= GOAL
        print(f"{role}: {baseline:.0f} MB after warm-up ({warm_s:.0f} s), peak {peak:.0f} MB: "
              f"growth {100 * grown:+.1f} % ({verdict} the goal of <= {100 * GOAL:g} %)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
