"""Frames/s of the synthetic scene generator and of the shipped segmenters on this machine.

Run: ``python benchmarks/bench_vision.py [--frames 48] [--threads 2]``. Prints frames/s and, for the
segmenters, the ratio to the 10 frames/s goal, all measured in this one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from semlink.data import open_source
from semlink.data.camvid import default_camvid_root
from semlink.data.synthetic import SyntheticDriving
from semlink.vision.segmenter import shipped_segmenter

GOAL_FPS = 10.0


def rate(count: int, seconds: float) -> float:
    """Frames per second."""
    return count / max(seconds, 1e-9)


def bench_synthetic(frames: int) -> float:
    """Synthetic frames rendered per second at 256×512."""
    source = SyntheticDriving("val")
    started = time.perf_counter()
    for index in range(frames):
        source.frame(index)
    return rate(frames, time.perf_counter() - started)


def bench_segmenter(label_set: str, images: np.ndarray, repeats: int) -> float:
    """Frames segmented per second (batches of 8, after one warm-up batch)."""
    segmenter = shipped_segmenter(label_set, device="cpu")
    segmenter.segment(images[:8])
    started = time.perf_counter()
    for _ in range(repeats):
        segmenter.segment(images)
    return rate(repeats * len(images), time.perf_counter() - started)


def main() -> None:
    """Print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"synthetic scenes 256x512: {bench_synthetic(args.frames):.1f} frames/s")
    synthetic = np.stack([f.image for f in SyntheticDriving("val").take(16)])
    fps = bench_segmenter("cityscapes", synthetic, max(1, args.frames // 16))
    print(f"segmenter (synthetic, 256x512): {fps:.1f} frames/s = {fps / GOAL_FPS:.2f}x the 10 frames/s goal")
    if (default_camvid_root() / "val").is_dir():
        camvid = np.stack([f.image for f in open_source("camvid", "val").take(16)])
        fps = bench_segmenter("camvid", camvid, max(1, args.frames // 16))
        print(f"segmenter (camvid, 360x480): {fps:.1f} frames/s = {fps / GOAL_FPS:.2f}x the 10 frames/s goal")
    else:
        print("segmenter (camvid): skipped, CamVid not found (set SEMLINK_CAMVID)")


if __name__ == "__main__":
    main()
