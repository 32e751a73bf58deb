"""Closed-form bit error rates of uncoded Gray QPSK and 16-QAM on AWGN and flat Rayleigh fading.

QPSK: ``Q(sqrt(2 Eb/N0))``. Gray 16-QAM (two Gray 4-PAMs, levels +-1, +-3):
``(3 Q(x) + 2 Q(3x) - Q(5x)) / 4`` with ``x = sqrt(4/5 Eb/N0)``. On Rayleigh fading each
``Q(sqrt(a g))`` is averaged over the exponential SNR ``g`` of mean ``G``:
``(1 - sqrt(a G / (2 + a G))) / 2``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc

_TERMS = {
    2: [(1.0, 2.0)],  # (weight, a) of each weight * Q(sqrt(a * Eb/N0))
    4: [(0.75, 0.8), (0.5, 7.2), (-0.25, 20.0)],
}


def q_function(x: np.ndarray) -> np.ndarray:
    """The Gaussian tail ``Q(x) = erfc(x / sqrt 2) / 2``."""
    return 0.5 * erfc(np.asarray(x, dtype=np.float64) / math.sqrt(2.0))


def ber_theory(bits_per_symbol: int, esno_db: np.ndarray, fading: str = "awgn") -> np.ndarray:
    """Uncoded BER at the given Es/N0.

    :param bits_per_symbol: 2 (QPSK) or 4 (16-QAM).
    :param esno_db: [P] Es/N0 in dB.
    :param fading: ``awgn`` or ``rayleigh``.
    :raises ValueError: for other modulations or fadings.
    """
    if bits_per_symbol not in _TERMS or fading not in ("awgn", "rayleigh"):
        raise ValueError(f"closed forms exist here for QPSK and 16-QAM on awgn or rayleigh, not {bits_per_symbol}")
    ebno = 10.0 ** (np.asarray(esno_db, dtype=np.float64) / 10.0) / bits_per_symbol
    total = np.zeros_like(ebno)
    for weight, a in _TERMS[bits_per_symbol]:
        if fading == "awgn":
            total += weight * q_function(np.sqrt(a * ebno))
        else:
            total += weight * 0.5 * (1.0 - np.sqrt(a * ebno / (2.0 + a * ebno)))
    return total
