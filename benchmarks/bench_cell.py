"""Slots per second of the shared medium under each scheduler, at 8, 32 and 128 vehicles.

Run: ``python benchmarks/bench_cell.py [--frames 10] [--vehicles 8 32 128]``.

What it measures: a 10 MHz carrier (24 resource blocks, 0.5 ms slots) at 20 dB, every vehicle
sending a 40 kbit frame (in 9,600-bit packets, due 100 ms later) 10 times a second for
``--frames`` frames; for each scheduler and vehicle count, the slots simulated (only slots with
data queued), the wall time, slots per second, and the ratio of each scheduler's time to round
robin's at the same count. Issue 24's goal: the scheduler and the geometry cheap beside the codecs
(a 32-vehicle point at most 1.5x a single link's cost per vehicle-frame); the medium's own cost
is what this prints.

Caveats: one run each on a possibly noisy machine: compare ratios from one invocation only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

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


def main() -> None:
    """Print a line per scheduler and vehicle count."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--vehicles", type=int, nargs="+", default=[8, 32, 128])
    args = parser.parse_args()
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
