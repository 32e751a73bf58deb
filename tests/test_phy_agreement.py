"""The abstraction (``phy``) agrees with the link-level models within 1 dB at BLER 10 %.

For each fading and MCS: the SNR where the abstraction gives BLER 10 % is found by bisection;
the link-level model runs there; the abstraction is then inverted at the BLER the link level
measured, and the two SNRs must lie within 1 dB. Packets are one code block (256 bits in CI,
1024 with ``-m slow``), 20 ms apart on Rayleigh for the link level (independent fades at 120 km/h).
One MCS runs in CI, three (QPSK, 16-QAM, 64-QAM) with ``-m slow``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from semlink.channel import DELIVERED, PacketBatch, build_channel

SMALL, LARGE = 232, 1000  # + CRC24: one block of 256 or 1024 bits


def loss_rate(
    model: str, fading: str, index: int, snr_db: float, packets: int, spacing_us: int, seed: int, bits: int
) -> float:
    """Packet loss of ``packets`` one-block packets of ``bits`` at one SNR."""
    params: dict[str, object] = {"snr_db": snr_db, "mcs": index}
    if fading != "awgn":
        params["speed_kmh"] = 120.0
    if model == "phy":
        params["fading"] = fading
    channel = build_channel(model if model == "phy" else fading, **params)
    channel.reset()
    batch = PacketBatch(
        np.full(packets, bits, dtype=np.int64),
        np.arange(packets, dtype=np.int64) * spacing_us,
        ("image",) * packets,
    )
    return float((channel.transmit(batch, np.random.default_rng(seed)).fates != DELIVERED).mean())


def abstraction_snr_at(fading: str, index: int, target: float, low: float, high: float, bits: int) -> float:
    """The SNR where the abstraction's packet loss is ``target`` (bisection on a monotone curve)."""
    for step in range(12):
        middle = 0.5 * (low + high)
        loss = loss_rate("phy", fading, index, middle, 6000, 2000, 100 + step, bits)
        low, high = (middle, high) if loss > target else (low, middle)
    return 0.5 * (low + high)


def disagreement_db(fading: str, index: int, link_packets: int, bits: int) -> float:
    """|SNR of the link level at its measured BLER - SNR of the abstraction at that BLER| in dB."""
    at_ten = abstraction_snr_at(fading, index, 0.1, -10.0, 40.0, bits)
    measured = loss_rate(fading, fading, index, at_ten, link_packets, 20_000, 7, bits)
    measured = min(max(measured, 0.5 / link_packets), 1.0 - 0.5 / link_packets)
    abstraction = abstraction_snr_at(fading, index, measured, at_ten - 6.0, at_ten + 6.0, bits)
    return abs(abstraction - at_ten)


@pytest.mark.parametrize(("fading", "link_packets"), [("awgn", 600), ("rayleigh", 1500)])
def test_abstraction_agrees_with_link_level_on_qpsk(fading: str, link_packets: int) -> None:
    assert disagreement_db(fading, 4, link_packets, SMALL) < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("index", [4, 9, 13])
@pytest.mark.parametrize("fading", ["awgn", "rayleigh"])
def test_abstraction_agrees_with_link_level_on_three_mcs(fading: str, index: int) -> None:
    gap = disagreement_db(fading, index, 1500, LARGE)
    print(f"{fading} mcs {index}: {gap:.2f} dB")
    assert gap < 1.0 and not math.isnan(gap)
