"""Time-correlated fading: Clarke's model by a sum of sinusoids, flat or over a 3GPP TDL profile.

A tap's gain is ``g(t) = M^-1/2 * sum_m exp(j (2 pi f_D cos(a_m) t + p_m))`` with the arrival
angles ``a_m`` and phases ``p_m`` drawn uniformly once per sweep point (the Monte Carlo
sum-of-sinusoids method). Over those draws ``E[g(t) g*(t + tau)] = J0(2 pi f_D tau)``, Clarke's
autocorrelation, and for M = 32 sinusoids the envelope is close to Rayleigh. Unlike i.i.d. block
fading, consecutive packets see correlated gains, so losses come in bursts at low speeds and
scatter at high ones, as on the road. The process can be evaluated at any times, so it runs on
across the frames of a point.

Evaluating the sum at every time a packet needs costs M complex exponentials per tap and sample;
instead the process is read by linear interpolation (a relative error of about 0.5 %) from its
values on a grid of 1/32 of a Doppler period (41 us at 765 Hz), and only the grid points the
packets of a call occupy are computed, in groups of G = 64: a group's values are one small matrix
product, ``g[G a + b] = sum_m (c_m z_m^(G a)) z_m^b`` with ``z_m`` a sinusoid's turn per grid step,
so a group costs M exponentials per tap instead of G M. A frame's packets every 100 ms touch one
or two groups, whatever the time between frames; a dense batch of packets costs about one
exponential per tap and sinusoid every 64 grid points, plus the product's M multiply-adds per point.

The Doppler frequency is ``f_D = v f_c / c``: 656 Hz at 120 km/h and 765 Hz at 140 km/h on 5.9 GHz.

A TDL profile (3GPP TR 38.901 §7.7.2, read from the files Sionna ships) has taps of given power
and normalised delay; the delays are scaled by the delay spread, each tap fades on its own, and a
LoS profile (TDL-D, TDL-E) has a first tap that does not fade but turns at the full Doppler shift.
The frequency response at subcarrier offset ``f`` is ``H(f, t) = sum_l g_l(t) exp(-j 2 pi f tau_l)``.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semlink.channel.base import check_number

SPEED_OF_LIGHT = 299_792_458.0
SINUSOIDS = 32
"""Sinusoids per faded tap."""
GRID_PER_PERIOD = 32
"""Grid samples of the tabulated process per Doppler period."""
GRID_GROUP = 64
"""Grid samples computed together (one matrix product per group)."""
TDL_PROFILES = ("A", "B", "C", "D", "E")


def doppler_hz(speed_kmh: float, carrier_ghz: float) -> float:
    """Maximum Doppler shift ``v f_c / c`` in Hz.

    :param speed_kmh: relative speed in km/h.
    :param carrier_ghz: carrier frequency in GHz.
    """
    return speed_kmh / 3.6 * carrier_ghz * 1e9 / SPEED_OF_LIGHT


def unit_phasors(angles: np.ndarray) -> np.ndarray:
    """``exp(j angles)`` as complex128, from ``cos`` and ``sin`` (twice as fast as numpy's complex ``exp``)."""
    out = np.empty(angles.shape, dtype=np.complex128)
    np.cos(angles, out=out.real)
    np.sin(angles, out=out.imag)
    return out


@dataclass(frozen=True)
class TapProfile:
    """Power-delay profile of a tapped delay line.

    :param powers: [L] linear tap powers, summing to 1.
    :param delays_s: [L] tap delays in seconds.
    :param los: whether the first tap is a specular (non-fading) path.
    """

    powers: np.ndarray
    delays_s: np.ndarray
    los: bool = False


FLAT = TapProfile(np.ones(1), np.zeros(1))
"""One Rayleigh-faded tap: flat fading."""


def tdl_profile(name: str, delay_spread_ns: float) -> TapProfile:
    """The 3GPP TDL profile ``A`` ... ``E`` scaled to ``delay_spread_ns``, from Sionna's model files.

    :raises ValueError: for an unknown profile, or if Sionna (which ships the tables) is not installed.
    """
    check_number("tdl", "delay_spread_ns", delay_spread_ns, 0.0, 1e6, low_open=True)
    if name not in TDL_PROFILES:
        raise ValueError(f"tdl: profile={name!r} is not a TDL profile; choose one of {', '.join(TDL_PROFILES)}")
    spec = importlib.util.find_spec("sionna")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("tdl: the TDL profiles come with Sionna; install it with: pip install 'sionna-no-rt==2.2.*'")
    root = Path(next(iter(spec.submodule_search_locations))) / "phy" / "channel" / "tr38901" / "models"
    files = sorted(root.glob(f"*/TDL-{name}.json"))
    if not files:
        raise ValueError(f"tdl: Sionna's TDL-{name}.json was not found under {root}")
    data = json.loads(files[-1].read_text())
    powers = 10.0 ** (np.asarray(data["powers"], dtype=np.float64) / 10.0)
    delays = np.asarray(data["delays"], dtype=np.float64) * delay_spread_ns * 1e-9
    return TapProfile(powers / powers.sum(), delays, bool(data.get("los", 0)))


class FadingProcess:
    """Gains of every tap of a profile at any times, for one sweep point.

    :param profile: the taps.
    :param doppler: maximum Doppler shift in Hz (0: a static channel, one draw per point).
    :param rng: the source of the angles and phases (drawn here, once).
    :param sinusoids: sinusoids per faded tap.
    """

    def __init__(
        self, profile: TapProfile, doppler: float, rng: np.random.Generator, sinusoids: int = SINUSOIDS
    ) -> None:
        self.profile, self.doppler = profile, float(doppler)
        taps = profile.powers.size
        self._omega = 2.0 * math.pi * self.doppler * np.cos(rng.uniform(0.0, 2.0 * math.pi, (taps, sinusoids)))
        self._phase = rng.uniform(0.0, 2.0 * math.pi, (taps, sinusoids))
        self._los_phase = float(rng.uniform(0.0, 2.0 * math.pi))
        self._amplitude = np.sqrt(profile.powers)
        self._fine: np.ndarray | None = None
        if self.doppler > 0.0:
            offsets = np.arange(GRID_GROUP) * self._step
            # [L, M, GRID_GROUP]: each sinusoid's turn from a group's first grid point to its others.
            fine = np.exp(1j * self._omega[:, :, None] * offsets) / math.sqrt(sinusoids)
            self._fine = fine.astype(np.complex64)

    def taps(self, times_s: np.ndarray) -> np.ndarray:
        """Complex tap gains at the given times.

        :param times_s: [T] times in seconds, >= 0.
        :return: [T, L] complex128 gains, ``E|g_l|^2`` = the tap's power.
        """
        t = np.asarray(times_s, dtype=np.float64).ravel()
        if self.doppler == 0.0:
            gains = np.broadcast_to(self.exact(np.zeros(1)), (t.size, self._omega.shape[0])).copy()
        else:
            position = t / self._step
            low = np.floor(position).astype(np.int64)
            frac = (position - low)[:, None]
            both = self._grid(np.concatenate([low, low + 1]))  # complex64: the products are complex128
            gains = both[: t.size] * (1.0 - frac)
            gains += both[t.size :] * frac
        if self.profile.los:
            gains[:, 0] = unit_phasors(2.0 * math.pi * self.doppler * t + self._los_phase)
        gains *= self._amplitude
        return gains

    def exact(self, times_s: np.ndarray) -> np.ndarray:
        """[T, L] the unit-power sums of sinusoids evaluated directly (no grid, no LoS, no tap powers)."""
        t = np.asarray(times_s, dtype=np.float64).reshape(-1, 1, 1)
        sums = np.exp(1j * (self._omega[None] * t + self._phase[None])).sum(axis=2)
        return sums / math.sqrt(self._omega.shape[1])

    @property
    def _step(self) -> float:
        return 1.0 / (GRID_PER_PERIOD * self.doppler)

    def _grid(self, index: np.ndarray) -> np.ndarray:
        """[T, L] complex64 grid values at grid indices [T]."""
        if index.size == 0:
            return np.zeros((0, self._omega.shape[0]), np.complex64)
        group = index // GRID_GROUP
        first, last = int(group.min()), int(group.max())
        taps = self._omega.shape[0]
        if last - first < 2 * group.size:  # dense: every group of the span, no sort
            values = self._groups(np.arange(first, last + 1)).reshape(-1, taps)
            return values.take(index - first * GRID_GROUP, axis=0)
        needed, slot = np.unique(group, return_inverse=True)
        values = self._groups(needed).reshape(-1, taps)
        return values.take(slot.ravel() * GRID_GROUP + index % GRID_GROUP, axis=0)

    def _groups(self, groups: np.ndarray) -> np.ndarray:
        """[G, GRID_GROUP, L] complex64 grid values of whole groups of grid points.

        Each sinusoid is started at the group's first point and turned to the group's other points
        by the precomputed ``_fine`` factors, summed over the sinusoids by a batched matrix product.
        The starts are exact exponentials, or for a run of consecutive groups the first one turned
        on group by group (a running product: one multiplication instead of a cosine and a sine,
        exact to about 1e-13 over the few thousand groups of a call).
        """
        assert self._fine is not None
        span = GRID_GROUP * self._step
        consecutive = groups.size > 1 and int(groups[-1]) - int(groups[0]) == groups.size - 1
        if consecutive:
            first = unit_phasors(self._omega * (float(groups[0]) * span) + self._phase)  # [L, M]
            turn = unit_phasors(self._omega * span)[:, None, :]  # [L, 1, M]
            steps = np.broadcast_to(turn, (turn.shape[0], groups.size - 1, turn.shape[2]))
            coarse = np.concatenate([first[:, None, :], first[:, None, :] * np.cumprod(steps, axis=1)], axis=1)
        else:
            start = groups.astype(np.float64) * span  # [G]
            coarse = unit_phasors(self._omega[:, None, :] * start[None, :, None] + self._phase[:, None, :])
        # In single precision, as the values are kept (about 1e-7 relative, far below the
        # interpolation's 0.5 %), and the product is most of the cost of a dense batch.
        values = np.matmul(coarse.astype(np.complex64), self._fine)  # [L, G, GRID_GROUP]
        return np.ascontiguousarray(values.transpose(1, 2, 0))

    def response(self, times_s: np.ndarray, offsets_hz: np.ndarray) -> np.ndarray:
        """The frequency response at each (time, subcarrier offset) pair.

        :param times_s: [N] times.
        :param offsets_hz: [N] subcarrier offsets from the carrier.
        :return: [N] complex128 gains.
        """
        gains = self.taps(times_s)  # [N, L]
        if self.profile.powers.size == 1 and self.profile.delays_s[0] == 0.0:
            return gains[:, 0]
        phase = np.exp(-2j * math.pi * np.asarray(offsets_hz)[:, None] * self.profile.delays_s[None, :])
        return (gains * phase).sum(axis=1)
