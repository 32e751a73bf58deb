"""Every vehicle's place over a realisation (:class:`Track`), and the one way a track is built from
positions sampled at their own times (a SUMO FCD file's rows, or SUMO run here).

Example::

    rows = [np.array([[0.0, 0.0, 0.0, 30.0], [1.0, 30.0, 0.0, 30.0]])]  # (time, x, y, speed m/s)
    track = track_from_rows(rows, np.array([0.0, 0.5]), rsu=(0.0, -20.0), rsu_height_m=10.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SAMPLE_S = 0.1
"""Time between the samples of a track (the geometry changes little in 100 ms at road speeds)."""


@dataclass(frozen=True)
class Track:
    """Every vehicle's place over a realisation.

    :param times_s: [T] sample times. :param xy: [T, U, 2] positions (metres).
    :param ground_m: [T, U] ground distance to the receiver. :param speeds_kmh: [U] mean speeds.
    :param rsu_height_m: the receiver's antenna height. :param vehicle_height_m: the vehicles'.
    """

    times_s: np.ndarray
    xy: np.ndarray
    ground_m: np.ndarray
    speeds_kmh: np.ndarray
    rsu_height_m: float
    vehicle_height_m: float = 1.5

    @property
    def vehicles(self) -> int:
        """``U``."""
        return int(self.ground_m.shape[1])


def track_from_rows(
    chosen: Sequence[np.ndarray], times_s: np.ndarray, rsu: tuple[float, float], rsu_height_m: float
) -> Track:
    """The track of vehicles given as ``[K, 4]`` rows of (time, x, y, speed m/s) each, at ``times_s``.

    Positions are interpolated linearly between a vehicle's rows; a vehicle is held at its first
    position before its first row and at its last after its last. Its speed is the mean of its
    rows'. The receiver stands at ``rsu``, ``rsu_height_m`` up.
    """
    xy = np.stack(
        [
            np.stack([np.interp(times_s, v[:, 0], v[:, 1]), np.interp(times_s, v[:, 0], v[:, 2])], axis=1)
            for v in chosen
        ],
        axis=1,
    )
    ground = np.hypot(xy[..., 0] - rsu[0], xy[..., 1] - rsu[1])
    speeds = np.array([3.6 * float(np.mean(v[:, 3])) for v in chosen])
    return Track(np.asarray(times_s, dtype=np.float64), xy, ground, speeds, rsu_height_m)
