"""Encode and decode time of the semantic codecs per frame on this machine.

Run: ``python benchmarks/bench_semantic.py [--frames 8] [--threads 2]``. For each shipped codec
checkpoint (synthetic 256×512 and, where present, CamVid 360×480) it times ``compress`` (the map
coder, the encoder network, the token coder; the transmitter's segmentation is timed apart) and
``decompress`` (map and token decoding, the decoder network) of ``sqgan`` and ``spic``, and prints
ms per frame and the ratio of encode + decode to the 250 ms goal, all measured in this one run.

``--batch-sizes 1,8`` (default; ``1,8,32`` on CUDA) then times ``sqgan`` (10 % tokens) with
``compress_batch`` and ``decompress_batch`` on 256×512 synthetic frames: encode + decode frames/s
at each batch size and the ratio to batch 1, on the device ``--device`` picks (``auto``: CUDA
where present).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from semlink.codecs import CODECS
from semlink.codecs.semantic.checkpoint import shipped_codec_path
from semlink.data import open_source
from semlink.data.camvid import default_camvid_root
from semlink.vision.segmenter import shipped_segmenter

GOAL_MS = 250.0
CASES = (("sqgan", {"tokens": 0.1}), ("sqgan", {"tokens": 0.1, "map_scale": 2}), ("spic", {"quality": 50}))


def per_frame_ms(function, items: list) -> float:  # type: ignore[no-untyped-def, type-arg]
    """Mean ms per call of ``function`` over ``items`` after one warm-up call."""
    function(items[0])
    started = time.perf_counter()
    for item in items:
        function(item)
    return 1000 * (time.perf_counter() - started) / len(items)


def bench(source_name: str, label_set: str, size: tuple[int, int] | None, frames: int) -> None:
    """Time the codecs on ``frames`` frames of ``source_name``."""
    source = open_source(source_name, "val", size, None, seed=0)
    images = [source.frame(i).image for i in range(frames)]
    segmenter = shipped_segmenter(label_set, device="cpu")
    segment_ms = per_frame_ms(lambda image: segmenter.segment(image[None]), images)
    maps = [segmenter.segment(image[None])[0] for image in images]
    shape = images[0].shape[:2]
    print(f"{source_name} {shape[0]}x{shape[1]}: transmitter segmentation {segment_ms:.0f} ms/frame")
    for name, settings in CASES:
        codec = CODECS.create(name, label_set=label_set, device="cpu", **settings)
        pairs = list(zip(images, maps, strict=True))
        encode_ms = per_frame_ms(lambda pair, c=codec: c.compress(*pair), pairs)
        streams = [codec.compress(*pair) for pair in pairs]
        decode_ms = per_frame_ms(lambda bitstream, c=codec: c.decompress(bitstream.received()), streams)
        bpp = np.mean([b.bpp for b in streams])
        total = encode_ms + decode_ms
        print(
            f"  {name} {settings}: {bpp:.4f} bpp, encode {encode_ms:.0f} ms + decode {decode_ms:.0f} ms = "
            f"{total:.0f} ms/frame = {total / GOAL_MS:.2f}x the {GOAL_MS:.0f} ms goal"
        )


def batching(batch_sizes: list[int], frames: int, device: str) -> None:
    """Encode + decode frames/s of ``sqgan`` at each batch size (one forward pass per batch)."""
    source = open_source("synthetic", "val", (256, 512), None, seed=0)
    count = max(frames, max(batch_sizes))
    images = [source.frame(i % len(source)).image for i in range(count)]
    maps = [source.frame(i % len(source)).labels for i in range(count)]
    codec = CODECS.create("sqgan", label_set="cityscapes", device=device, tokens=0.1)
    print(f"batching, sqgan 10 % tokens, 256x512, device {codec.device}:")
    rates: dict[int, float] = {}
    for size in batch_sizes:
        rounds = max(1, count // size)

        def coded(first: int, size: int = size) -> None:
            chunk = slice(first, first + size)
            streams = codec.compress_batch(images[chunk], maps[chunk])
            codec.decompress_batch([stream.received() for stream in streams])

        coded(0)  # warm-up (kernel choice, allocations)
        started = time.perf_counter()
        for number in range(rounds):
            coded(number * size)
        rates[size] = rounds * size / (time.perf_counter() - started)
        ratio = rates[size] / rates[batch_sizes[0]]
        print(f"  batch {size}: {rates[size]:.2f} frames/s ({ratio:.2f}x batch {batch_sizes[0]})")


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8, help="frames timed per codec (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--batch-sizes", default=None, help="comma-separated (default 1,8; 1,8,32 on CUDA)")
    parser.add_argument("--device", default="auto", help="device of the batching part (default auto)")
    parser.add_argument("--no-per-frame", action="store_true", help="only the batching part")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {args.threads}")
    if not args.no_per_frame:
        if shipped_codec_path("cityscapes").exists():
            bench("synthetic", "cityscapes", (256, 512), args.frames)
        if shipped_codec_path("camvid").exists() and (default_camvid_root() / "val").is_dir():
            bench("camvid", "camvid", None, args.frames)
    default = "1,8,32" if torch.cuda.is_available() and args.device in ("auto", "cuda") else "1,8"
    sizes = [int(size) for size in (args.batch_sizes or default).split(",")]
    batching(sizes, max(args.frames, 16), args.device)


if __name__ == "__main__":
    main()
