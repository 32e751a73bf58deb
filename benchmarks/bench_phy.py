"""The radio's speed: abstraction fates per second, and the link-level model against the bare Sionna chain.

Run: ``python benchmarks/bench_phy.py [--packets 1000000] [--blocks 256] [--repeats 3]``.

1. **Abstraction** (``phy``): fates of ``--packets`` packets of 1230 bytes (about 9.8 kbit,
   three code blocks each) in one vectorised call, on AWGN at a fixed MCS, on AWGN with link
   adaptation, on Rayleigh fading at 120 km/h, and on TDL-D at 120 km/h (a tenth of the packets).
   Goal: >= 1 million fates/s.
2. **Link level** (``awgn``): ``--blocks`` packets of one 1000-bit code block (k = 1024 with the CRC)
   at QPSK rate 1/2-ish (MCS 3, rate 0.44) through the model, against the bare chain on the same
   blocks: Sionna's LDPC5GEncoder, Mapper, AWGN, Demapper and LDPC5GDecoder called directly in a
   few lines. Goal: the model within 10 % of the bare chain (ratio >= 0.9). Information bits/s of both.

3. **Per frame** (``phy``, TDL-D at 130 km/h, 10 frames/s, 3 packets of 1230 bytes a frame, as a
   semantic codec sends): milliseconds of channel CPU per frame, to set beside the codec's
   encode + decode time (``bench_semantic.py``): the channel process must never be the bottleneck.

Each timing is the best of ``--repeats`` runs in this one process (the machine is shared: compare
only the ratios printed, and only within one run). The process uses the channel node's share of
the machine's threads in a ``semlink run`` (``--threads``, default as a run would give it: one on
a 2-core machine), set before numpy loads its BLAS.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from semlink.nodes.threads import machine_cores, node_threads, thread_environment


def channel_threads(argv: list[str]) -> int:
    """The ``--threads`` given, else the channel node's share of this machine's cores."""
    for number, arg in enumerate(argv):
        if arg == "--threads" and number + 1 < len(argv):
            return int(argv[number + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return node_threads("channel", machine_cores())


os.environ.update(thread_environment(channel_threads(sys.argv[1:])))  # before numpy's BLAS starts

import numpy as np  # noqa: E402

from semlink.channel import PacketBatch, build_channel  # noqa: E402

PACKET_BITS = 8 * 1230


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """The shortest wall time of ``repeats`` calls of ``work``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def packet_batch(count: int) -> PacketBatch:
    """``count`` packets of 1230 bytes offered every 100 us (the radio queues them back to back)."""
    return PacketBatch(
        np.full(count, PACKET_BITS, dtype=np.int64), np.arange(count, dtype=np.int64) * 100, ("image",) * count
    )


def abstraction(packets: int, repeats: int) -> None:
    """Fates per second of the ``phy`` model in four settings (TDL on a tenth of the packets)."""
    settings: dict[str, dict[str, object]] = {
        "awgn, mcs 9": {"fading": "awgn", "snr_db": 8.0, "mcs": 9},
        "awgn, mcs auto": {"fading": "awgn", "snr_db": 8.0, "mcs": "auto"},
        "rayleigh 120 km/h, mcs 9": {"fading": "rayleigh", "snr_db": 12.0, "mcs": 9, "speed_kmh": 120},
        "tdl-D 120 km/h, mcs 9": {"fading": "tdl", "profile": "D", "snr_db": 12.0, "mcs": 9, "speed_kmh": 120},
    }
    for name, params in settings.items():
        model = build_channel("phy", **params)
        # TDL-D samples 13 taps at 16 subcarriers per instant: a tenth of the packets keeps it short
        count = packets // 10 if params["fading"] == "tdl" else packets
        batch = packet_batch(count)

        def run(model=model, batch=batch) -> None:  # type: ignore[no-untyped-def]
            model.reset()
            model.transmit(batch, np.random.default_rng(0))

        seconds = best_of(repeats, run)
        print(f"abstraction, {name}: {count / seconds / 1e6:.2f} M fates/s (goal >= 1)")


def bare_chain(blocks: int) -> Callable[[], object]:
    """The Sionna chain called directly: encode, map, AWGN, demap, decode, count block errors."""
    import torch
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
    from sionna.phy.mapping import Demapper, Mapper

    from semlink.channel.phy.mcs import mcs

    scheme = mcs(3)
    k = 1024
    n = scheme.coded_bits(k)
    encoder = LDPC5GEncoder(k, n, num_bits_per_symbol=2)
    decoder = LDPC5GDecoder(encoder, num_iter=20, hard_out=True)
    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2)
    rng = np.random.default_rng(0)
    no = 10 ** (-1.0 / 10)

    def run() -> object:
        with torch.no_grad():
            bits = torch.from_numpy(rng.integers(0, 2, (blocks, k)).astype(np.float32))
            x = mapper(encoder(bits))
            noise = rng.standard_normal((*x.shape, 2)).astype(np.float32) * np.float32(np.sqrt(no / 2))
            y = x + torch.from_numpy((noise[..., 0] + 1j * noise[..., 1]).astype(np.complex64))
            estimate = decoder(demapper(y, torch.full(y.shape, no)))
            return (estimate != bits).any(dim=1).sum()

    return run


def link_level(blocks: int, repeats: int) -> None:
    """The ``awgn`` model against the bare chain on the same block shape."""
    model = build_channel("awgn", snr_db=1.0, mcs=3, device="cpu")
    sizes = np.full(blocks, 1000, dtype=np.int64)
    batch = PacketBatch(sizes, np.arange(blocks, dtype=np.int64) * 1000, ("image",) * blocks)

    def run_model() -> None:
        model.reset()
        model.transmit(batch, np.random.default_rng(0))

    bare = bare_chain(blocks)
    run_model()
    bare()  # warm up both (chain construction, first-call allocations)
    model_s = best_of(repeats, run_model)
    bare_s = best_of(repeats, bare)
    print(
        f"link level, model: {blocks / model_s:.1f} blocks/s, {blocks * 1000 / model_s / 1e3:.1f} kbit/s of information"
    )
    print(f"link level, bare Sionna chain: {blocks / bare_s:.1f} blocks/s, {blocks * 1024 / bare_s / 1e3:.1f} kbit/s")
    print(f"link level, ratio model/bare: {bare_s / model_s:.2f} (goal >= 0.9)")


def per_frame(frames: int, repeats: int) -> None:
    """Channel CPU per frame of a realistic run on the abstraction with TDL fading."""
    model = build_channel("phy", fading="tdl", profile="D", snr_db=10.0, mcs=9, speed_kmh=130, harq_max_tx=2)
    batches = [
        PacketBatch(np.full(3, PACKET_BITS, dtype=np.int64), np.full(3, i * 100_000, dtype=np.int64), ("vq",) * 3)
        for i in range(frames)
    ]

    def run() -> None:
        model.reset()
        rng = np.random.default_rng(0)
        for batch in batches:
            model.transmit(batch, rng)

    seconds = best_of(repeats, run)
    print(f"abstraction per frame (TDL-D, 130 km/h, 3 packets): {1e3 * seconds / frames:.2f} ms of channel CPU")


def main() -> None:
    """Parse the arguments and run both parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--blocks", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="BLAS/torch threads (default: the channel's share)")
    args = parser.parse_args()
    print(f"threads: {os.environ['OMP_NUM_THREADS']}")
    abstraction(args.packets, args.repeats)
    per_frame(300, args.repeats)
    link_level(args.blocks, args.repeats)


if __name__ == "__main__":
    main()
