"""A study's wall time without and with the work cache, and how much of its work it did.

Run: ``python benchmarks/bench_study.py [--frames 20] [--repeats 5] [--scenario scenarios/v2x-highway.yaml]``.

What it measures: the scenario (default the highway preset, ``--frames`` frames a point,
``--repeats`` channel realisations) run as ``semlink run`` subprocesses into temporary folders:
(a) ``cache: false`` (every point encodes, decodes, segments and scores every frame again),
(b) the work cache on, starting empty, and (c) the cache on, starting empty, with ``--workers 2``.
It prints the wall times and their ratios, each stage's
values computed and taken from the cache (from each run's ``work.json``) against the distinct
work of the sweep (its distinct (frame, codec setting) pairs), and whether the three
``results.csv`` are byte-identical (neither the cache nor the workers may change a number).

Caveats: one run each on a possibly noisy machine: compare the ratio from one invocation only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HIGHWAY = Path(__file__).resolve().parents[1] / "scenarios" / "v2x-highway.yaml"
STAGES = ("segment-source", "encode", "channel", "decode", "segment", "score")


def timed_run(scenario: Path, out: Path, settings: list[str], timeout_s: float, workers: int = 1) -> float:
    """Seconds of one ``semlink run`` with ``--set`` ``settings``; raises ``RuntimeError`` if it fails."""
    command = [sys.executable, "-m", "semlink.cli", "run", str(scenario), "--out", str(out), "-q"]
    command += ["--workers", str(workers)]
    for setting in settings:
        command += ["--set", setting]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode:
        raise RuntimeError(f"semlink run failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return time.perf_counter() - started


def distinct_encodes(scenario: Path, frames: int) -> int:
    """Distinct (frame, codec setting) pairs of the sweep: frames x the codecs' setting combinations."""
    raw = yaml.safe_load(scenario.read_text())
    combinations = 0
    for codec in raw["codecs"]:
        count = 1
        for key, value in codec.items():
            if key != "name" and isinstance(value, list):
                count *= len(value)
        for value in (codec.get("options") or {}).values():
            if isinstance(value, list):
                count *= len(value)
        combinations += count
    return combinations * frames


def main() -> None:
    """Run (a) and (b), print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=HIGHWAY)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument(
        "--repeats", type=int, default=None, help="channel realisations a point (default the scenario's)"
    )
    parser.add_argument("--timeout", type=float, default=7200.0)
    parser.add_argument("--configs", default="abc", help="which of (a), (b), (c) to run, e.g. bc (default abc)")
    args = parser.parse_args()
    settings = [f"data.frames={args.frames}"] + ([f"repeats={args.repeats}"] if args.repeats else [])
    print(f"machine: {os.cpu_count()} cores; scenario {args.scenario.name}, {' '.join(settings)}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        plans = {
            "a": ("(a) cache off", [*settings, "cache=false"], 1),
            "b": ("(b) cache on, empty", settings, 1),
            "c": ("(c) (b) + 2 workers", settings, 2),
        }
        chosen = {tag: plans[tag] for tag in "abc" if tag in args.configs}
        times = {
            name: timed_run(args.scenario, root / tag, sets, args.timeout, n) for tag, (name, sets, n) in chosen.items()
        }
        tags = {name: tag for tag, (name, _, _) in chosen.items()}
        works = {name: json.loads((root / tag / "work.json").read_text()) for name, tag in tags.items()}
        identical = len({(root / tag / "results.csv").read_bytes() for tag in tags.values()}) == 1
    for name, seconds in times.items():
        print(f"{name:22} {seconds:8.1f} s")
    names = list(times)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            print(f"ratio {first[:3]}/{second[:3]}: {times[first] / times[second]:.2f}")
    print(f"distinct (frame, codec setting) pairs: {distinct_encodes(args.scenario, args.frames)}")
    print(f"{'stage':15} " + " ".join(f"{name[:3] + ' computed / hits / s':>38}" for name in times))
    for stage in STAGES:
        cells = []
        for work in works.values():
            done = work["stages"].get(stage, {"computed": 0, "hits": 0, "seconds": 0.0})
            cells.append(f"{done['computed']:>14} / {done['hits']:>8} / {done['seconds']:>8.1f}")
        print(f"{stage:15} " + " ".join(f"{cell:>38}" for cell in cells))
    print(f"results.csv identical: {identical}")


if __name__ == "__main__":
    main()
