"""The quickstart on a local Ray against ``--workers`` on this machine: wall time and per-point overhead.

Run: ``python benchmarks/bench_ray.py [--frames 10] [--workers 2] [--scenario scenarios/quickstart.yaml]``.

What it measures: the scenario (default the quickstart, ``--frames`` frames a point) run three
times as ``semlink run`` subprocesses into temporary folders, each with the work cache off so the
three do the same work: (1) ``--workers 1`` (sequential, the reference), (2) ``--workers N``
(units of points as local child runs), (3) ``--executor ray`` on a local Ray started by
``semlink run`` with N CPUs (the same units as Ray tasks). It prints the wall times, the ratio
Ray / workers, the per-point overhead of each ((wall - sequential / N) / points: the wall time a
point costs beyond a perfect N-way split of the sequential run; on a machine with fewer than N
free cores this includes the lost parallelism), and whether the three ``results.csv`` are
byte-identical.

Caveats: one run each on a possibly noisy machine: compare the ratios from one invocation only.
Needs the ``ray`` extra (``pip install -e '.[ray]'``).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


def timed_run(scenario: Path, out: Path, extra: list[str], frames: int, timeout_s: float) -> float:
    """Seconds of one ``semlink run``; raises ``RuntimeError`` with its stderr's tail if it fails."""
    command = [sys.executable, "-m", "semlink.cli", "run", str(scenario), "--out", str(out), "-q"]
    command += ["--frames", str(frames), "--set", "cache=false", *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(extra) or 'sequential'} failed ({done.returncode}): {done.stderr[-600:]}")
    return time.perf_counter() - started


def point_count(results: Path) -> int:
    """Rows of a ``results.csv``."""
    with results.open(newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def main() -> int:
    """Run the three configurations and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=QUICKSTART)
    parser.add_argument("--frames", type=int, default=10, help="frames a point (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="workers and Ray CPUs (default 2)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per run")
    args = parser.parse_args()
    if importlib.util.find_spec("ray") is None:
        print("bench_ray: Ray is not installed; pip install -e '.[ray]'", file=sys.stderr)
        return 1
    configs = {
        "sequential (--workers 1)": ["--workers", "1"],
        f"--workers {args.workers}": ["--workers", str(args.workers)],
        f"--executor ray ({args.workers} CPUs)": ["--executor", "ray", "--workers", str(args.workers)],
    }
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as temp:
        walls: dict[str, float] = {}
        outs: dict[str, Path] = {}
        for number, (name, extra) in enumerate(configs.items()):
            outs[name] = Path(temp) / f"run{number}"
            walls[name] = timed_run(args.scenario, outs[name], extra, args.frames, args.timeout)
            print(f"{name}: {walls[name]:.1f} s", flush=True)
        texts = {name: (out / "results.csv").read_bytes() for name, out in outs.items()}
        points = point_count(next(iter(outs.values())) / "results.csv")
    sequential, workers, ray = walls.values()
    print(f"points: {points}, {args.frames} frames each; machine: {sys.platform}, cores shared by every run")
    print(f"ratio ray / workers (wall): {ray / workers:.2f}")
    for name, wall in list(walls.items())[1:]:
        overhead = (wall - sequential / args.workers) / points
        print(f"per-point overhead of {name}: {overhead:.2f} s ((wall - sequential / {args.workers}) / points)")
    same = len(set(texts.values())) == 1
    print(f"results.csv identical in all three: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
