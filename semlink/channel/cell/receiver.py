"""Who receives the vehicles, and the large-scale loss (pathloss plus shadowing) each one sees.

The receiver is the road's roadside unit (``rsu``, the default) or the base station of a TR 38.901
``umi``, ``uma`` or ``rma`` site (:class:`Receiver`).

- **RSU.** Pathloss is TR 38.901's UMi street canyon LOS model (``umi_los``, the default:
  :meth:`~semlink.channel.cell.budget.LinkBudget.pathloss_db`, which TR 37.885 takes for
  vehicle-to-RSU links) or TR 37.885's highway LOS model (``highway``:
  :meth:`~semlink.channel.cell.budget.LinkBudget.highway_pathloss_db`); shadowing is the channel's
  (``shadowing_db``, correlated over 10 m along each vehicle's path).
- **A TR 38.901 site.** The base station stands where the RSU would (the road's ``(0,
  -rsu_offset_m)``, or ``rsu: [x, y]`` of a trace or SUMO network) at the scenario's height (UMi
  10 m, UMa 25 m, RMa 35 m, TR 38.901 Table 7.2-1/7.2-3), and serves a hexagonal site of radius
  ``ISD / sqrt(3)`` (ISD 200 m, 500 m, 1732 m; a vehicle beyond it is refused before the run by the
  scenario's precheck). Each vehicle is line of sight or not by the scenario's LOS probability
  (Table 7.4.2-1), spatially consistent along its path (§7.6.3.3: a standard normal process
  correlated over 50 m, 50 m, 60 m, Table 7.6.3.1-2, compared through its CDF with the probability
  at the vehicle's distance, so a vehicle changes state as it moves, not every sample). Pathloss is
  Table 7.4.1-1's LOS formula, or in NLOS the larger of it and the NLOS formula (UMa: environment
  height 1 m, as for vehicles below 13 m; RMa: buildings 5 m, streets 20 m wide). Shadowing is
  log-normal with the table's sigma for the state (UMi 4 / 7.82 dB, UMa 4 / 6 dB, RMa 4 (6 beyond
  the breakpoint) / 8 dB),
  correlated along the path over Table 7.5-6's distances (UMi 10 / 13 m, UMa 37 / 50 m, RMa 37 /
  120 m), each sigma times ``shadowing_db / 4`` (the channel's default 4 dB keeps the table's, 0
  turns shadowing off).

Written with numpy, not with Sionna's system level: Sionna computes TR 38.901 pathloss inside its
channel models (``sionna.phy.channel.tr38901``) from a topology of torch tensors, drawing each
user's LOS state afresh per drop from its own global seed, while a vehicle here keeps its state
along a path sampled every 100 ms and every draw comes from the realisation's numpy generator.
The formulas are the same as Sionna 2.2's ``_compute_pathloss_basic`` and ``los_probability``
(``tests/test_mobility.py`` compares them where Sionna is installed).

Example::

    loss = Receiver("uma").loss_db(track, LinkBudget(), moved_m, rng)  # [T, U] dB
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from semlink.channel.cell.budget import LIGHT_M_S, LinkBudget, correlated_normal
from semlink.channel.cell.track import Track

RSU_PATHLOSS = ("umi_los", "highway")
"""The RSU's pathloss models."""
ENVIRONMENT_HEIGHT_M = 1.0
"""UMa's effective environment height for a vehicle (antenna below 13 m)."""
RMA_BUILDING_M = 5.0
RMA_STREET_M = 20.0
MIN_GROUND_M = 10.0
"""The formulas' shortest ground distance (Table 7.4.1-1); nearer vehicles are taken at 10 m."""


@dataclass(frozen=True)
class Site:
    """A TR 38.901 scenario's site (see the module docstring).

    :param height_m: the base station's antenna height. :param isd_m: inter-site distance.
    :param los_corr_m: correlation distance of the LOS state. :param sigma_los_db,
        sigma_nlos_db: shadowing's sigma in LOS and NLOS. :param corr_los_m, corr_nlos_m:
        shadowing's decorrelation distance in each.
    """

    height_m: float
    isd_m: float
    los_corr_m: float
    sigma_los_db: float
    sigma_nlos_db: float
    corr_los_m: float
    corr_nlos_m: float

    @property
    def radius_m(self) -> float:
        """The site's hexagon radius (centre to corner), ``ISD / sqrt(3)``."""
        return self.isd_m / math.sqrt(3.0)


SITES: dict[str, Site] = {
    "umi": Site(10.0, 200.0, 50.0, 4.0, 7.82, 10.0, 13.0),
    "uma": Site(25.0, 500.0, 50.0, 4.0, 6.0, 37.0, 50.0),
    "rma": Site(35.0, 1732.0, 60.0, 4.0, 8.0, 37.0, 120.0),
}
"""The TR 38.901 sites a receiver may be: UMi street canyon, UMa, RMa."""
RECEIVERS = ("rsu", *SITES)
"""Every receiver: the road's RSU or a TR 38.901 site."""


def los_probability(scenario: str, ground_m: np.ndarray) -> np.ndarray:
    """TR 38.901 Table 7.4.2-1's LOS probability at ground distances ``ground_m`` (outdoor, antenna
    below 13 m)."""
    d = np.maximum(np.asarray(ground_m, dtype=np.float64), 1e-9)
    if scenario == "rma":
        return np.where(d <= 10.0, 1.0, np.exp(-(d - 10.0) / 1000.0))
    scale = 36.0 if scenario == "umi" else 63.0
    return np.where(d <= 18.0, 1.0, 18.0 / d + np.exp(-d / scale) * (1.0 - 18.0 / d))


def pathloss_db(
    scenario: str, ground_m: np.ndarray, los: np.ndarray, h_bs: float, h_ut: float, fc_ghz: float
) -> np.ndarray:
    """TR 38.901 Table 7.4.1-1's pathloss (dB) at ground distances ``ground_m``, LOS where ``los``."""
    d2 = np.maximum(np.asarray(ground_m, dtype=np.float64), MIN_GROUND_M)
    d3 = np.hypot(d2, h_bs - h_ut)
    fc_hz = fc_ghz * 1e9
    log_f = math.log10(fc_ghz)
    if scenario == "rma":
        h, w = RMA_BUILDING_M, RMA_STREET_M
        bp = rma_breakpoint_m(h_bs, h_ut, fc_ghz)

        def pl1(d: np.ndarray | float) -> np.ndarray:
            return (
                20.0 * np.log10(40.0 * math.pi * np.asarray(d) * fc_ghz / 3.0)
                + min(0.03 * h**1.72, 10.0) * np.log10(d)
                - min(0.044 * h**1.72, 14.77)
                + 0.002 * math.log10(h) * np.asarray(d)
            )

        line = np.where(d2 < bp, pl1(d3), pl1(bp) + 40.0 * np.log10(d3 / bp))
        other = (
            161.04
            - 7.1 * math.log10(w)
            + 7.5 * math.log10(h)
            - (24.37 - 3.7 * (h / h_bs) ** 2) * math.log10(h_bs)
            + (43.42 - 3.1 * math.log10(h_bs)) * (np.log10(d3) - 3.0)
            + 20.0 * log_f
            - (3.2 * math.log10(11.75 * h_ut) ** 2 - 4.97)
        )
    else:
        umi = scenario == "umi"
        bp = 4.0 * (h_bs - ENVIRONMENT_HEIGHT_M) * (h_ut - ENVIRONMENT_HEIGHT_M) * fc_hz / LIGHT_M_S
        near_slope, base, far_term = (21.0, 32.4, 9.5) if umi else (22.0, 28.0, 9.0)
        near = base + near_slope * np.log10(d3) + 20.0 * log_f
        far = base + 40.0 * np.log10(d3) + 20.0 * log_f - far_term * math.log10(bp**2 + (h_bs - h_ut) ** 2)
        line = np.where(d2 < bp, near, far)
        if umi:
            other = 35.3 * np.log10(d3) + 22.4 + 21.3 * log_f - 0.3 * (h_ut - 1.5)
        else:
            other = 13.54 + 39.08 * np.log10(d3) + 20.0 * log_f - 0.6 * (h_ut - 1.5)
    return np.where(los, line, np.maximum(line, other))


def rma_breakpoint_m(h_bs: float, h_ut: float, fc_ghz: float) -> float:
    """RMa's breakpoint distance ``2 pi h_BS h_UT f_c / c`` (LOS pathloss and its sigma change there)."""
    return 2.0 * math.pi * h_bs * h_ut * fc_ghz * 1e9 / LIGHT_M_S


@dataclass(frozen=True)
class Receiver:
    """Who receives: ``rsu`` (the road's roadside unit) or a TR 38.901 site (``umi``, ``uma``,
    ``rma``); see the module docstring.

    :param kind: one of :data:`RECEIVERS`. :param pathloss: the RSU's model, ``umi_los`` or
        ``highway`` (a site has its scenario's).
    """

    kind: str = "rsu"
    pathloss: str = "umi_los"

    def __post_init__(self) -> None:
        """Check both fields (one-line ``ValueError`` naming the field)."""
        if self.kind not in RECEIVERS:
            raise ValueError(f"vehicles: receiver {self.kind!r} must be one of {', '.join(RECEIVERS)}")
        if self.pathloss not in RSU_PATHLOSS:
            raise ValueError(f"vehicles: rsu_pathloss {self.pathloss!r} must be one of {', '.join(RSU_PATHLOSS)}")

    @property
    def site(self) -> Site | None:
        """The TR 38.901 site (None for the RSU)."""
        return SITES.get(self.kind)

    def loss_db(self, track: Track, budget: LinkBudget, moved_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """[T, U] pathloss plus shadowing of every vehicle of ``track`` at its sample times;
        ``moved_m`` [T, U] is how far each moved since the previous sample. The RSU draws its
        shadowing from ``rng``; a site its LOS process, then its LOS and NLOS shadowing."""
        ground, h_bs, h_ut = track.ground_m, track.rsu_height_m, track.vehicle_height_m
        site = self.site
        if site is None:
            if self.pathloss == "highway":
                return budget.highway_pathloss_db(ground, h_bs, h_ut) + budget.shadowing(moved_m, rng)
            return budget.pathloss_db(ground, h_bs, h_ut) + budget.shadowing(moved_m, rng)
        state = correlated_normal(moved_m, site.los_corr_m, 1.0, rng)
        los = ndtr(state) < los_probability(self.kind, ground)
        sigma_los: float | np.ndarray = site.sigma_los_db
        if self.kind == "rma":  # 4 dB before the breakpoint, 6 dB beyond
            sigma_los = np.where(ground < rma_breakpoint_m(h_bs, h_ut, budget.carrier_ghz), 4.0, 6.0)
        scale = budget.shadowing_db / 4.0
        shadow_los = correlated_normal(moved_m, site.corr_los_m, 1.0, rng) * sigma_los
        shadow_nlos = correlated_normal(moved_m, site.corr_nlos_m, 1.0, rng) * site.sigma_nlos_db
        loss = pathloss_db(self.kind, ground, los, h_bs, h_ut, budget.carrier_ghz)
        return loss + scale * np.where(los, shadow_los, shadow_nlos)
