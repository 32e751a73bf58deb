"""The built-in road: vehicles on a straight multi-lane road past a roadside unit (RSU).

The road runs along ``x``; lane ``k`` (0 nearest the RSU) is at ``y = k * lane_width_m``, and the
RSU stands at ``(0, -rsu_offset_m)``, ``rsu_height_m`` up. Vehicles are spread over the lanes in
turn, ``spacing_m`` apart along each lane, the whole queue centred on the RSU at time 0, each with
a random offset of up to a quarter spacing (so no two vehicles are in lockstep). Each drives at
``speed_kmh`` times its own factor drawn in ``[1 - speed_spread, 1 + speed_spread]``; a vehicle that
leaves the stretch of ``length_m`` centred on the RSU re-enters at its other end (a ring road
unrolled), so the cell's load stays constant over a run.

Example::

    road = Road(lanes=3, spacing_m=25.0, speed_kmh=100.0)
    xy = road.positions(count=8, rng=np.random.default_rng(0), times_s=np.array([0.0, 1.0]))  # [2, 8, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semlink.settings import check_number


@dataclass(frozen=True)
class Road:
    """A straight road past an RSU (see the module docstring).

    :param lanes: lanes (1-8). :param lane_width_m: their width.
    :param spacing_m: distance between consecutive vehicles of one lane.
    :param speed_kmh: mean speed. :param speed_spread: relative spread of speeds (0-0.5).
    :param rsu_offset_m: the RSU's distance from the nearest lane. :param rsu_height_m: its height.
    :param vehicle_height_m: antenna height of the vehicles.
    :param length_m: the stretch vehicles drive round (centred on the RSU).
    """

    lanes: int = 3
    lane_width_m: float = 3.5
    spacing_m: float = 25.0
    speed_kmh: float = 100.0
    speed_spread: float = 0.1
    rsu_offset_m: float = 20.0
    rsu_height_m: float = 10.0
    vehicle_height_m: float = 1.5
    length_m: float = 2000.0

    def __post_init__(self) -> None:
        """Check every field (one-line ``ValueError`` naming it)."""
        check_number("vehicles", "lanes", self.lanes, 1, 8)
        check_number("vehicles", "lane_width_m", self.lane_width_m, 0.0, 10.0, low_open=True)
        check_number("vehicles", "spacing_m", self.spacing_m, 0.0, 1000.0, low_open=True)
        check_number("vehicles", "speed_kmh", self.speed_kmh, 0.0, 500.0)
        check_number("vehicles", "speed_spread", self.speed_spread, 0.0, 0.5)
        check_number("vehicles", "rsu_offset_m", self.rsu_offset_m, 0.0, 10000.0)
        check_number("vehicles", "rsu_height_m", self.rsu_height_m, 0.0, 500.0)
        check_number("vehicles", "length_m", self.length_m, 1.0, 100000.0)

    def speeds_kmh(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """[U] each vehicle's speed."""
        return self.speed_kmh * rng.uniform(1.0 - self.speed_spread, 1.0 + self.speed_spread, size=count)

    def start(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """[U, 2] positions at time 0 (x along the road, y across it).

        :raises ValueError: if the vehicles do not fit on the stretch (one line, with the fix).
        """
        per_lane = -(-count // self.lanes)
        if per_lane * self.spacing_m > self.length_m:
            raise ValueError(
                f"vehicles: {count} vehicles at spacing_m={self.spacing_m:g} on {self.lanes} lanes need "
                f"{per_lane * self.spacing_m:g} m of road, more than length_m={self.length_m:g}; "
                "add lanes, lower the spacing or lengthen the road"
            )
        lane = np.arange(count) % self.lanes
        rank = np.arange(count) // self.lanes
        x = (rank - (per_lane - 1) / 2.0) * self.spacing_m
        x = x + rng.uniform(-0.25, 0.25, size=count) * self.spacing_m
        return np.stack([x, lane * self.lane_width_m], axis=1)

    def positions(self, count: int, rng: np.random.Generator, times_s: np.ndarray) -> np.ndarray:
        """[T, U, 2] positions at each time (wrapped into the stretch), for ``count`` vehicles whose
        start and speeds are drawn from ``rng`` (start first, then speeds)."""
        start = self.start(count, rng)
        return self.drive(start, self.speeds_kmh(count, rng), times_s)

    def drive(self, start: np.ndarray, speeds_kmh: np.ndarray, times_s: np.ndarray) -> np.ndarray:
        """[T, U, 2] positions at each time of vehicles leaving ``start`` [U, 2] at ``speeds_kmh`` [U]."""
        half = self.length_m / 2.0
        x = start[None, :, 0] + np.asarray(times_s, dtype=np.float64)[:, None] * (speeds_kmh[None, :] / 3.6)
        x = (x + half) % self.length_m - half
        return np.stack([x, np.broadcast_to(start[None, :, 1], x.shape)], axis=2)

    def distances_m(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground (2D) and 3D distances to the RSU of positions ``[..., 2]``."""
        dx = xy[..., 0]
        dy = xy[..., 1] + self.rsu_offset_m
        ground = np.hypot(dx, dy)
        return ground, np.hypot(ground, self.rsu_height_m - self.vehicle_height_m)
