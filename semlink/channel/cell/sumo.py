"""Vehicles driven by Eclipse SUMO (``mobility: sumo``): a SUMO network and route file, run here
through ``libsumo`` (the optional extra ``semlink[sumo]``).

Each realisation runs SUMO once, at 100 ms steps (:data:`~semlink.channel.cell.track.SAMPLE_S`),
seeded with a number drawn from the realisation's road stream (SUMO's ``--seed``), so the same
realisation always drives the same way. SUMO's time ``begin_s`` is the drive's time 0 (a later
start lets the routes' flows fill the road first); from there, for the drive's duration, it
records the first ``count`` vehicles in order of first appearance (within a step, in the order
SUMO lists them), each a row of (time, x, y, speed) per step, and builds the track exactly as a
SUMO FCD file's is built (:func:`~semlink.channel.cell.track.track_from_rows`): a run here and the
FCD file ``sumo --fcd-output`` writes for the same network, routes and seed give the same
positions. A vehicle is held at its first position before it departs and at its last after it
arrives. Positions are SUMO's (the front bumper, in the network's coordinates); the receiver
stands at ``rsu`` in them.

SUMO is imported only when a drive runs; a scenario naming ``mobility: sumo`` without it is
refused before anything loads (:mod:`semlink.scenario.precheck`). ``libsumo`` holds one
simulation per process, so runs in one process take turns.

Example::

    drive = SumoDrive("hw.net.xml", "r.rou.xml", rsu=(500.0, -20.0))
    track = drive.track(8, np.arange(0.0, 2.0, 0.1), np.random.default_rng(0))
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from semlink.channel.cell.track import SAMPLE_S, Track, track_from_rows

INSTALL = "pip install 'semlink[sumo]'"
"""How to install SUMO for semlink."""
MAX_SEED = 2**31 - 1
"""SUMO's seeds are non-negative C ints."""
_ONE_AT_A_TIME = threading.Lock()


def one_line(text: str) -> str:
    """SUMO's message on one line."""
    return " ".join(str(text).split())


@dataclass(frozen=True)
class SumoDrive:
    """Vehicles driven by SUMO over ``network`` along ``routes`` (see the module docstring).

    :param network: the SUMO network (``.net.xml``, from ``netconvert``). :param routes: the
        route file (``.rou.xml``). :param rsu: the receiver's ``(x, y)`` in the network's
        coordinates. :param rsu_height_m: its antenna height. :param begin_s: SUMO's time at which
        the drive starts.
    """

    network: str
    routes: str
    rsu: tuple[float, float]
    rsu_height_m: float = 10.0
    begin_s: float = 0.0

    def command(self, seed: int) -> list[str]:
        """SUMO's command line for one run (also what ``sumo`` takes to write the same FCD file)."""
        return [
            "sumo",
            "--net-file",
            self.network,
            "--route-files",
            self.routes,
            "--step-length",
            f"{SAMPLE_S:g}",
            "--seed",
            str(seed),
            "--no-step-log",
            "true",
            "--no-warnings",
            "true",
            "--duration-log.disable",
            "true",
        ]

    def rows(self, count: int, duration_s: float, seed: int) -> dict[str, np.ndarray]:
        """The first ``count`` vehicles' ``[K, 4]`` rows of (drive time, x, y, speed m/s) over
        ``duration_s`` of driving, in order of first appearance.

        :raises ValueError: one line naming the fix: SUMO is not installed, refuses the files, or
            puts fewer than ``count`` vehicles on the road within the drive.
        """
        try:
            import libsumo
        except ImportError:
            raise ValueError(f"vehicles: mobility: sumo needs SUMO, which is not installed: {INSTALL}") from None
        rows: dict[str, list[tuple[float, float, float, float]]] = {}
        with _ONE_AT_A_TIME:
            try:
                libsumo.start(self.command(seed))
                try:
                    self._drive(libsumo, rows, count, duration_s)
                finally:
                    libsumo.close()
            except libsumo.TraCIException as error:
                raise ValueError(
                    f"vehicles: SUMO cannot run network {self.network} with routes {self.routes}: {one_line(error)}"
                ) from None
        if len(rows) < count:
            raise ValueError(
                f"vehicles: SUMO put {len(rows)} vehicles on the road in the drive's {duration_s:g} s from "
                f"begin_s={self.begin_s:g}, fewer than vehicles.count {count}; let more vehicles depart by then "
                f"in {self.routes}, raise vehicles.begin_s or lower vehicles.count"
            )
        return {key: np.asarray(value, dtype=np.float64) for key, value in rows.items()}

    def _drive(
        self, sumo: Any, rows: dict[str, list[tuple[float, float, float, float]]], count: int, duration_s: float
    ) -> None:
        """Step the running simulation ``sumo`` (the ``libsumo`` module) through the drive into ``rows``."""
        simulation, vehicle, step = sumo.simulation, sumo.vehicle, sumo.simulationStep
        while True:
            # after a step SUMO's clock has moved on; the state is the one its FCD output labels with the step's start
            now = round(float(simulation.getTime()) - self.begin_s, 6)
            if now > duration_s + 1e-6 or (now > 0 and simulation.getMinExpectedNumber() == 0):
                return
            step()
            if now < -1e-6:
                continue
            for name in vehicle.getIDList():
                mine = rows.get(name)
                if mine is None:
                    if len(rows) == count:
                        continue
                    mine = rows[name] = []
                x, y = vehicle.getPosition(name)
                mine.append((now, float(x), float(y), float(vehicle.getSpeed(name))))

    def seeded_track(self, count: int, times_s: np.ndarray, seed: int) -> Track:
        """The track of the first ``count`` vehicles at ``times_s`` (drive time) of SUMO run with ``seed``."""
        rows = self.rows(count, float(np.max(times_s)), seed)
        return track_from_rows(list(rows.values()), times_s, self.rsu, self.rsu_height_m)

    def track(self, count: int, times_s: np.ndarray, rng: np.random.Generator) -> Track:
        """The track of the first ``count`` vehicles at ``times_s``, SUMO seeded from ``rng``."""
        return self.seeded_track(count, times_s, int(rng.integers(0, MAX_SEED)))
