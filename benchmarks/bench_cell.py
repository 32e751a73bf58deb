"""Slots per second of the shared medium under each scheduler, at 8, 32 and 128 vehicles; and the
whole pipeline's cost per vehicle-frame with many vehicles against a single link.

Run: ``python benchmarks/bench_cell.py [--frames 10] [--vehicles 8 32 128]``, and
``python benchmarks/bench_cell.py --pipeline [--pipeline-vehicles 32] [--pipeline-frames 4]``.

What it measures: a 10 MHz carrier (24 resource blocks, 0.5 ms slots) at 20 dB, every vehicle
sending a 40 kbit frame (in 9,600-bit packets, due 100 ms later) 10 times a second for
``--frames`` frames; for each scheduler and vehicle count, the slots simulated (only slots with
data queued), the wall time, slots per second, and the ratio of each scheduler's time to round
robin's at the same count. Issue 24's goal: the scheduler and the geometry cheap beside the codecs
(a 32-vehicle point at most 1.5x a single link's cost per vehicle-frame); the medium's own cost
is what this prints.

With ``--pipeline``: one scenario in one process (JPEG at quality 50, the shipped segmenter,
128x256 synthetic frames, no work cache), run as ``V`` vehicles of ``F`` frames sharing a
``cell`` and as one vehicle on an ideal link over ``V x F`` frames; each run is timed twice, cold
(nothing cached) and warm (``cache: true``, the second run into the same folder's cache, so only
the channel, the medium and the bookkeeping are left), after one small run that loads the modules
and models; it prints seconds per vehicle-frame and the ratio cell / single link.

Caveats: one run each on a possibly noisy machine: compare ratios from one invocation only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from semlink.channel.cell.medium import CellPackets, Medium
from semlink.channel.cell.schedulers import SCHEDULERS
from semlink.channel.phy.numerology import Numerology

SCHEDULER_NAMES = ("round_robin", "proportional_fair", "deadline", "semantic", "mode2")


def packets(vehicles: int, frames: int, bits: int = 40_000, mtu_bits: int = 9600) -> CellPackets:
    """Every vehicle's frames as packets (a map packet first, priority 0, then the rest)."""
    per_frame = -(-bits // mtu_bits)
    frame = np.repeat(np.arange(frames), vehicles * per_frame)
    vehicle = np.tile(np.repeat(np.arange(vehicles), per_frame), frames)
    part = np.tile(np.arange(per_frame), frames * vehicles)
    sizes = np.where(part < per_frame - 1, mtu_bits, bits - mtu_bits * (per_frame - 1))
    release = frame * 100_000.0
    return CellPackets(vehicle, sizes, release, release + 100_000.0, (part > 0).astype(np.int64))


def measure(name: str, vehicles: int, frames: int) -> tuple[int, float, float]:
    """Slots simulated, wall seconds and the share of packets delivered for one configuration."""
    snr = np.full(vehicles, 20.0)
    medium = Medium(Numerology(10, 30), SCHEDULERS.get(name)(), vehicles, lambda ids, _t: snr[ids])
    start = time.perf_counter()
    outcome = medium.run(packets(vehicles, frames), np.random.default_rng(0))
    return outcome.slots, time.perf_counter() - start, float(outcome.delivered.mean())


def pipeline_seconds(vehicles: int, frames: int, cell: bool, folder: Path, cache: bool) -> float:
    """Wall seconds of one in-process run (see the module docstring)."""
    import semlink

    scenario: dict[str, Any] = {
        "name": "bench-cell",
        "seed": 1,
        "data": {"source": "synthetic", "split": "val", "frames": frames, "size": [128, 256]},
        "codecs": [{"name": "jpeg", "quality": 50}],
        "metrics": ["miou"],
        "device": "cpu",
        "transport": "inproc",
        "cache": cache,
        "channel": {"model": "cell", "bandwidth_mhz": 20} if cell else {"model": "ideal"},
    }
    if cell:
        scenario["vehicles"] = {"count": vehicles}
    start = time.perf_counter()
    semlink.run(scenario, out=folder, report=False, console=Console(quiet=True))
    return time.perf_counter() - start


def pipeline(vehicles: int, frames: int) -> None:
    """Print the cost per vehicle-frame of ``vehicles`` sharing a cell against one link."""
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        pipeline_seconds(2, 1, True, root / "imports", cache=False)  # imports and model loads, before any timing
        shown = {}
        for name, cell, count, each in (("cell", True, vehicles, frames), ("single link", False, 1, vehicles * frames)):
            cold = pipeline_seconds(count, each, cell, root / f"{name}-cold", cache=False)
            pipeline_seconds(count, each, cell, root / f"{name}-warm", cache=True)
            for row in (root / f"{name}-warm").glob("results.csv"):
                row.unlink()  # the rerun computes every point again, from the warm cache
            warm = pipeline_seconds(count, each, cell, root / f"{name}-warm", cache=True)
            shown[name] = (cold / (vehicles * frames), warm / (vehicles * frames))
            print(f"{name:<12} {count:>3} x {each:>3} frames: {shown[name][0] * 1000:7.1f} ms per vehicle-frame cold, "
                  f"{shown[name][1] * 1000:7.1f} ms warm")  # fmt: skip
        (cell_cold, cell_warm), (link_cold, link_warm) = shown["cell"], shown["single link"]
        print(f"cell / single link: {cell_cold / link_cold:.2f} x cold, {cell_warm / link_warm:.2f} x warm")


def main() -> None:
    """Print a line per scheduler and vehicle count (or, with --pipeline, the pipeline's costs)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--vehicles", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--pipeline", action="store_true", help="time whole runs: a cell against a single link")
    parser.add_argument("--pipeline-vehicles", type=int, default=32)
    parser.add_argument("--pipeline-frames", type=int, default=4)
    args = parser.parse_args()
    if args.pipeline:
        pipeline(args.pipeline_vehicles, args.pipeline_frames)
        return
    print(f"{'scheduler':<18} {'vehicles':>8} {'slots':>7} {'seconds':>8} {'slots/s':>8} {'delivered':>9} {'x rr':>6}")
    for vehicles in args.vehicles:
        base = None
        for name in SCHEDULER_NAMES:
            slots, seconds, delivered = measure(name, vehicles, args.frames)
            base = seconds if base is None else base
            print(f"{name:<18} {vehicles:>8} {slots:>7} {seconds:>8.2f} {slots / seconds:>8.0f} {delivered:>9.3f} "
                  f"{seconds / base:>6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
