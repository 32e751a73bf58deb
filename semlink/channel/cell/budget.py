"""From geometry to SNR: pathloss, shadowing, uplink power control and noise per resource block.

Pathloss is TR 38.901's UMi street canyon line-of-sight model (Table 7.4.1-1), which TR 37.885
takes for vehicle-to-RSU links in its urban and highway scenarios: ``32.4 + 21 log10(d_3D) +
20 log10(f_c)`` dB up to the breakpoint distance ``d_BP = 4 h_BS' h_UT' f_c / c`` (effective
heights, 1 m of environment height), ``32.4 + 40 log10(d_3D) + 20 log10(f_c) - 9.5 log10(d_BP^2
+ (h_BS - h_UT)^2)`` beyond; distances of at least 10 m. Shadowing is log-normal (4 dB, the
model's sigma) and follows each vehicle along the road with an exponential correlation over
``decorrelation_m`` (10 m, TR 38.901 Table 7.5-6 for UMi LOS): ``s_k = rho s_{k-1} +
sqrt(1 - rho^2) sigma n_k``, ``rho = exp(-moved / decorrelation_m)``.

Uplink power control is TS 38.213's open loop: per resource block ``min(P_max - 10 log10(M),
P_0 + alpha PL)`` dBm with ``M`` the blocks a vehicle is expected to use (the carrier's over the
vehicles, at least one); noise per block ``-174 dBm/Hz + 10 log10(12 * scs) + NF``. The SNR is
per resource element (Es/N0), as the radio's BLER tables take it. Written with numpy rather than
Sionna's ``get_pathloss`` / ``open_loop_uplink_power_control``: those take channel responses and
tensors of a TR 38.901 topology; the road's geometry needs the formulas only.

The RSU may instead see TR 37.885's highway LOS pathloss (Table 6.2.1-1, the model it gives for
vehicle-to-vehicle links on a highway, as ns-3's ``ThreeGppV2vHighwayPropagationLossModel``):
``32.4 + 20 log10(d_3D) + 20 log10(f_c)`` dB, free space's slope, no breakpoint (TR 37.885's
shadowing there is 3 dB: set ``shadowing_db: 3``). A TR 38.901 base station as the receiver is
:mod:`semlink.channel.cell.receiver`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from semlink.settings import check_number

LIGHT_M_S = 299_792_458.0
ENVIRONMENT_HEIGHT_M = 1.0


@dataclass(frozen=True)
class LinkBudget:
    """The uplink budget of every vehicle (see the module docstring).

    :param carrier_ghz: carrier frequency. :param subcarrier_khz: subcarrier spacing.
    :param max_power_dbm: a vehicle's transmit power at most. :param p0_dbm: power control's
        target received power per block. :param alpha: its pathloss compensation (0-1).
    :param noise_figure_db: the RSU receiver's. :param shadowing_db: log-normal sigma.
    :param decorrelation_m: distance over which shadowing decorrelates.
    """

    carrier_ghz: float = 5.9
    subcarrier_khz: float = 30.0
    max_power_dbm: float = 23.0
    p0_dbm: float = -90.0
    alpha: float = 1.0
    noise_figure_db: float = 9.0
    shadowing_db: float = 4.0
    decorrelation_m: float = 10.0

    def __post_init__(self) -> None:
        """Check every field (one-line ``ValueError`` naming it)."""
        check_number("channel", "carrier_ghz", self.carrier_ghz, 0.5, 100.0)
        check_number("channel", "alpha", self.alpha, 0.0, 1.0)
        check_number("channel", "shadowing_db", self.shadowing_db, 0.0, 20.0)
        check_number("channel", "decorrelation_m", self.decorrelation_m, 0.0, 1000.0, low_open=True)

    def pathloss_db(self, ground_m: np.ndarray, height_rsu_m: float, height_vehicle_m: float) -> np.ndarray:
        """UMi street canyon LOS pathloss (dB) at ground distances ``ground_m``."""
        d2 = np.maximum(np.asarray(ground_m, dtype=np.float64), 10.0)
        d3 = np.hypot(d2, height_rsu_m - height_vehicle_m)
        f = self.carrier_ghz
        breakpoint_m = (
            4 * (height_rsu_m - ENVIRONMENT_HEIGHT_M) * (height_vehicle_m - ENVIRONMENT_HEIGHT_M) * f * 1e9 / LIGHT_M_S
        )
        near = 32.4 + 21.0 * np.log10(d3) + 20.0 * math.log10(f)
        far = (
            32.4
            + 40.0 * np.log10(d3)
            + 20.0 * math.log10(f)
            - 9.5 * math.log10(max(breakpoint_m, 1e-9) ** 2 + (height_rsu_m - height_vehicle_m) ** 2)
        )
        return np.where(d2 <= breakpoint_m, near, far)

    def highway_pathloss_db(self, ground_m: np.ndarray, height_rsu_m: float, height_vehicle_m: float) -> np.ndarray:
        """TR 37.885's highway LOS pathloss (dB) at ground distances ``ground_m`` (at least 10 m)."""
        d2 = np.maximum(np.asarray(ground_m, dtype=np.float64), 10.0)
        d3 = np.hypot(d2, height_rsu_m - height_vehicle_m)
        return 32.4 + 20.0 * np.log10(d3) + 20.0 * math.log10(self.carrier_ghz)

    def shadowing(self, moved_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """[T, U] shadowing (dB) along each vehicle's path, from ``moved_m`` [T, U]: the distance
        each moved since the previous time (the first row: none)."""
        return correlated_normal(moved_m, self.decorrelation_m, self.shadowing_db, rng)

    def noise_per_block_dbm(self) -> float:
        """Thermal noise plus the noise figure over one resource block (12 subcarriers)."""
        return -174.0 + 10.0 * math.log10(12 * self.subcarrier_khz * 1e3) + self.noise_figure_db

    def snr_db(self, loss_db: np.ndarray, blocks_each: float) -> np.ndarray:
        """SNR per resource element of vehicles whose total loss (pathloss + shadowing) is
        ``loss_db``, each expected to use ``blocks_each`` resource blocks."""
        limit = self.max_power_dbm - 10.0 * math.log10(max(blocks_each, 1.0))
        per_block = np.minimum(limit, self.p0_dbm + self.alpha * np.asarray(loss_db))
        return per_block - np.asarray(loss_db) - self.noise_per_block_dbm()


def correlated_normal(
    moved_m: np.ndarray, decorrelation_m: float, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """[T, U] zero-mean normal values of standard deviation ``sigma`` along each vehicle's path,
    correlated as ``exp(-moved / decorrelation_m)`` between consecutive samples (``moved_m`` [T, U]:
    how far each vehicle moved since the previous sample; the first row: none)."""
    rho = np.exp(-np.asarray(moved_m) / decorrelation_m)
    noise = rng.standard_normal(rho.shape) * sigma
    out = np.empty_like(rho)
    out[0] = noise[0]
    for step in range(1, rho.shape[0]):
        out[step] = rho[step] * out[step - 1] + np.sqrt(1.0 - rho[step] ** 2) * noise[step]
    return out
