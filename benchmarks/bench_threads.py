"""Wall time of ``semlink run`` with the thread budget against the split it replaced, alone and
beside CPU-bound jobs.

Run: ``python benchmarks/bench_threads.py [--frames 4] [--busy 2] [--scenario scenarios/quickstart.yaml]``.

What it measures: the scenario (default the quickstart, ``--frames`` frames a point) run four
times as ``semlink run`` subprocesses into temporary folders: with ``threads`` = the cores
(today's default: on two cores one thread per node) and with ``threads`` = cores + 2, which on
two cores gives the split used before the budget (transmitter 1, channel 1, receiver 2); each
alone and beside ``--busy`` processes that spin on the CPU. It prints each wall time, the ratios
budget/old (below 1: the budget is faster) and whether every ``results.csv`` is identical (the
thread count must change no number).

Caveats: one run each on a possibly noisy machine: compare ratios from one invocation only.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


def spin() -> None:
    """Burn one core until killed."""
    while True:
        pass


def timed_run(scenario: Path, frames: int, threads: int, out: Path, timeout_s: float) -> float:
    """Seconds of one ``semlink run``; raises ``RuntimeError`` if it fails."""
    command = [sys.executable, "-m", "semlink.cli", "run", str(scenario), "--frames", str(frames)]
    command += ["--out", str(out), "--set", f"threads={threads}"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"semlink run with threads={threads} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> int:
    """Run the four cases and print the times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=4, help="frames per point (default 4)")
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes beside the loaded runs (default 2)")
    parser.add_argument("--scenario", type=Path, default=QUICKSTART, help="scenario YAML (default quickstart)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per run (default 3600)")
    args = parser.parse_args()
    from semlink.nodes.threads import machine_cores

    cores = machine_cores()
    cases = {"budget": cores, "old split": cores + 2}
    times: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as temp:
        for load in ("alone", f"beside {args.busy} busy"):
            spinners = [
                multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy if load != "alone" else 0)
            ]
            for spinner in spinners:
                spinner.start()
            try:
                for name, threads in cases.items():
                    out = Path(temp) / f"{load}-{name}".replace(" ", "-")
                    times[(load, name)] = timed_run(args.scenario, args.frames, threads, out, args.timeout)
                    print(f"{load}, {name} (threads={threads}): {times[(load, name)]:.0f} s", flush=True)
            finally:
                for spinner in spinners:
                    spinner.kill()
        results = {path.read_bytes() for path in Path(temp).glob("*/results.csv")}
    for load in ("alone", f"beside {args.busy} busy"):
        ratio = times[(load, "budget")] / times[(load, "old split")]
        print(f"{load}: budget / old split = {ratio:.2f}")
    print(f"results.csv identical in all four runs: {'yes' if len(results) == 1 else 'no'} ({cores} cores)")
    return 0 if len(results) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
