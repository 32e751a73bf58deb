"""Exponential effective SINR mapping (EESM): one SNR that gives an AWGN block the same BLER.

``SNR_eff = -beta * ln(mean_r exp(-SNR_r / beta))`` over the resource elements ``r`` a block
occupies, with ``beta`` per MCS. The betas are Sionna SYS's calibration for MCS table 2, read from
the file Sionna ships (``sionna/sys/esm_params/eesm_beta_table.json``) without importing Sionna.
Where every ``SNR_r`` is equal (no fading, or flat fading that does not change over the
resource elements) EESM returns it unchanged, whatever ``beta``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import numpy as np


@functools.lru_cache(maxsize=1)
def betas() -> dict[int, float]:
    """MCS index -> beta (MCS table 2).

    :raises ValueError: if Sionna's beta file cannot be found.
    """
    spec = importlib.util.find_spec("sionna")
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "sys" / "esm_params" / "eesm_beta_table.json"
    if path is None or not path.exists():
        raise ValueError("phy: the EESM betas come with Sionna; install it with: pip install 'sionna-no-rt==2.2.*'")
    values = json.loads(path.read_text())["index"]["2"]
    return {index: float(beta) for index, beta in enumerate(values)}


@functools.lru_cache(maxsize=1)
def beta_array() -> np.ndarray:
    """The betas of :func:`betas` as an array indexed by MCS index (read-only)."""
    table = betas()
    out = np.array([table[index] for index in range(max(table) + 1)], dtype=np.float64)
    out.flags.writeable = False
    return out


def effective_snr(snr: np.ndarray, beta: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """EESM over the last axis.

    :param snr: [N, R] linear SNRs of each packet's resource elements.
    :param beta: [N] beta of each packet's MCS.
    :param weights: [N, R] or [1, R] weight of each sample in the mean (rows summing to 1); None: equal.
    :return: [N] linear effective SNRs.
    """
    b = np.asarray(beta, dtype=np.float64)[:, None]
    scaled = np.asarray(snr, dtype=np.float64) / -b
    # log-mean-exp, shifted by the largest term so deep fades do not underflow to log(0); in place,
    # as a million packets' samples are a large array.
    top = scaled.max(axis=1, keepdims=True)
    scaled -= top
    np.exp(scaled, out=scaled)
    if weights is None:
        mean = scaled.mean(axis=1)
    else:
        scaled *= weights
        mean = scaled.sum(axis=1)
    return -b[:, 0] * (np.log(mean) + top[:, 0])
