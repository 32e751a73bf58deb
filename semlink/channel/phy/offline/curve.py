"""``semlink channel curve``: BLER and BER against SNR for one MCS, as CSV and a waterfall plot.

Coded (``ldpc``): blocks of ``block_bits`` through the link-level chain; on ``rayleigh`` each
block sees one independent Rayleigh gain (block fading; the receiver knows it). Uncoded (``none``):
Gray QAM with hard decisions, beside the closed form where one exists (QPSK, 16-QAM).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semlink.channel.phy.chain import chain_for, uncoded_bit_errors
from semlink.channel.phy.mcs import Mcs
from semlink.channel.phy.offline.waterfall import block_gains, simulate
from semlink.channel.phy.theory import ber_theory

CURVE_FADINGS = ("awgn", "rayleigh")


@dataclass(frozen=True)
class CurveRow:
    """One SNR of a curve.

    :param snr_db: Es/N0. :param ebno_db: Eb/N0 (per information bit when coded).
    :param blocks: blocks simulated (0 uncoded). :param bler: block error rate (NaN uncoded).
    :param ber: bit error rate. :param ber_theory: closed form (NaN where none).
    """

    snr_db: float
    ebno_db: float
    blocks: int
    bler: float
    ber: float
    ber_theory: float


def coded_row(
    scheme: Mcs, block_bits: int, snr_db: float, fading: str, rng: np.random.Generator, max_blocks: int, min_errors: int
) -> CurveRow:
    """BLER and post-decoding BER at one SNR."""
    point = simulate(chain_for(scheme, block_bits), snr_db, rng, max_blocks, min_errors, batch=100, fading=fading)
    ebno = snr_db - 10.0 * math.log10(scheme.spectral_efficiency)
    return CurveRow(snr_db, ebno, point.blocks, point.bler, point.ber, float("nan"))


def uncoded_row(bits_per_symbol: int, snr_db: float, fading: str, symbols: int, rng: np.random.Generator) -> CurveRow:
    """Uncoded BER at one SNR, with the closed form."""
    gains = block_gains(symbols, 1, rng)[:, 0] if fading == "rayleigh" else np.ones(symbols, np.complex128)
    ber = uncoded_bit_errors(bits_per_symbol, 10.0 ** (snr_db / 10.0), gains, rng)
    try:
        theory = float(ber_theory(bits_per_symbol, np.array([snr_db]), fading)[0])
    except ValueError:
        theory = float("nan")
    ebno = snr_db - 10.0 * math.log10(bits_per_symbol)
    return CurveRow(snr_db, ebno, 0, float("nan"), ber, theory)


def curve(
    scheme: Mcs,
    snrs_db: Sequence[float],
    fading: str = "awgn",
    coding: str = "ldpc",
    block_bits: int = 1024,
    max_blocks: int = 500,
    min_errors: int = 100,
    symbols: int = 1_000_000,
    seed: int = 0,
    on_row: Callable[[CurveRow], None] | None = None,
) -> list[CurveRow]:
    """The curve's rows, one per SNR; each SNR draws from its own stream of ``SeedSequence(seed)``."""
    if fading not in CURVE_FADINGS:
        raise ValueError(f"channel curve: --model {fading!r} must be one of {', '.join(CURVE_FADINGS)}")
    rows = []
    for stream, snr_db in zip(np.random.SeedSequence(seed).spawn(len(snrs_db)), snrs_db, strict=True):
        rng = np.random.default_rng(stream)
        if coding == "none":
            row = uncoded_row(scheme.bits_per_symbol, snr_db, fading, symbols, rng)
        else:
            row = coded_row(scheme, block_bits, snr_db, fading, rng, max_blocks, min_errors)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def write_curve(rows: list[CurveRow], out: Path, title: str) -> list[Path]:
    """``out/curve.csv`` and ``out/curve.png`` (BLER and BER on a log axis against Es/N0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    table = out / "curve.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["snr_db", "ebno_db", "blocks", "bler", "ber", "ber_theory"])
        for r in rows:
            writer.writerow(
                [r.snr_db, f"{r.ebno_db:.3f}", r.blocks, f"{r.bler:.6g}", f"{r.ber:.6g}", f"{r.ber_theory:.6g}"]
            )
    figure, axis = plt.subplots(figsize=(6, 4))
    snr = [r.snr_db for r in rows]
    for label, values, style in (
        ("BLER", [r.bler for r in rows], "o-"),
        ("BER", [r.ber for r in rows], "s-"),
        ("BER, closed form", [r.ber_theory for r in rows], "k--"),
    ):
        if not all(math.isnan(v) for v in values):
            axis.semilogy(snr, [v if v > 0 else math.nan for v in values], style, label=label)
    axis.set_xlabel("SNR = Es/N0 (dB)")
    axis.set_ylabel("error rate")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    picture = out / "curve.png"
    figure.savefig(picture, dpi=120)
    plt.close(figure)
    return [table, picture]
