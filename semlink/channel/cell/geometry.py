"""Where the vehicles are over a realisation, and the SNR each sees at every slot.

A :class:`~semlink.channel.cell.track.Track` holds every vehicle's ground distance to the receiver
at sample times (every 100 ms), from the built-in :class:`~semlink.channel.cell.road.Road`, from a
SUMO FCD trace (:class:`FcdTrace`, positions interpolated linearly between the trace's time steps)
or from SUMO run here (:class:`~semlink.channel.cell.sumo.SumoDrive`, the same interpolation).
:func:`snr_table` turns it into each vehicle's SNR per slot: pathloss and shadowing along its
path as its receiver sees them (:class:`~semlink.channel.cell.receiver.Receiver`: the RSU, or a
TR 38.901 site) and open-loop power control (:class:`~semlink.channel.cell.budget.LinkBudget`,
interpolated between samples), plus, with ``fading: rayleigh``, Clarke's flat fading at the
vehicle's own speed (:class:`~semlink.channel.phy.fading.FadingProcess`, one process per vehicle).

The FCD file is read with the standard library's expat parser, which refuses external entities
and bounds entity expansion; SUMO is not needed to read it.

Example::

    track = road_track(Road(), 8, np.arange(0, 2.0, 0.1), np.random.default_rng(0))
    table = snr_table(track, LinkBudget(), Numerology(), "rayleigh", 2_000_000, rng)  # table.db: [S, 8]
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semlink.channel.cell.budget import LinkBudget
from semlink.channel.cell.receiver import Receiver
from semlink.channel.cell.road import Road
from semlink.channel.cell.sumo import SumoDrive
from semlink.channel.cell.track import SAMPLE_S, Track, track_from_rows
from semlink.channel.phy.fading import FadingProcess, TapProfile, doppler_hz
from semlink.channel.phy.numerology import Numerology

__all__ = ["SAMPLE_S", "FcdTrace", "Mobility", "SnrTable", "Track", "road_track", "snr_table", "track_of"]

MAX_TRACE_BYTES = 256 * 2**20
"""The largest FCD file read."""
RSU = Receiver()
"""The road's roadside unit under UMi street canyon LOS pathloss: the receiver by default."""


def road_track(road: Road, count: int, times_s: np.ndarray, rng: np.random.Generator) -> Track:
    """The track of ``count`` vehicles on the built-in road (starts, then speeds, drawn from ``rng``)."""
    start = road.start(count, rng)
    speeds = road.speeds_kmh(count, rng)
    xy = road.drive(start, speeds, times_s)
    ground, _ = road.distances_m(xy)
    return Track(times_s, xy, ground, speeds, road.rsu_height_m, road.vehicle_height_m)


@dataclass(frozen=True)
class FcdTrace:
    """Positions from a SUMO FCD output file (``sumo --fcd-output FILE``), the receiver at ``rsu``.

    The first ``count`` vehicles in order of first appearance are the point's vehicles; a vehicle
    is held at its first position before it appears and at its last after it leaves.

    :param path: the FCD file. :param rsu: the receiver's ``(x, y)`` in the trace's coordinates.
    :param rsu_height_m: its antenna height.
    """

    path: str
    rsu: tuple[float, float]
    rsu_height_m: float = 10.0

    def read(self) -> dict[str, np.ndarray]:
        """Vehicle id -> ``[K, 4]`` rows of (time, x, y, speed m/s), in order of first appearance.

        :raises ValueError: one line naming the file, for a missing, unreadable or malformed one.
        """
        path = Path(self.path)
        try:
            if path.stat().st_size > MAX_TRACE_BYTES:
                raise ValueError(f"vehicles: trace {path} is larger than {MAX_TRACE_BYTES >> 20} MiB")
            root = ElementTree.parse(path).getroot()
        except OSError as error:
            raise ValueError(
                f"vehicles: trace {path}: {error.strerror}; name an FCD file from sumo --fcd-output"
            ) from None
        except ElementTree.ParseError as error:
            raise ValueError(
                f"vehicles: trace {path} is not XML ({error}); name an FCD file from sumo --fcd-output"
            ) from None
        rows: dict[str, list[tuple[float, float, float, float]]] = {}
        try:
            for step in root.iter("timestep"):
                time = float(step.get("time", "nan"))
                for vehicle in step.iter("vehicle"):
                    row = (time, float(vehicle.get("x", "nan")), float(vehicle.get("y", "nan")))
                    rows.setdefault(str(vehicle.get("id")), []).append((*row, float(vehicle.get("speed", "0"))))
        except ValueError:
            raise ValueError(f"vehicles: trace {path} has a time or position that is not a number") from None
        out = {key: np.asarray(value, dtype=np.float64) for key, value in rows.items()}
        if any(not np.isfinite(value[:, :3]).all() for value in out.values()):
            raise ValueError(f"vehicles: trace {path} has a timestep or vehicle without time, x or y")
        return out

    def track(self, count: int, times_s: np.ndarray) -> Track:
        """The track of the trace's first ``count`` vehicles at ``times_s`` (trace time 0 = the drive's start).

        :raises ValueError: if the trace has fewer than ``count`` vehicles (one line, with the fix).
        """
        vehicles = self.read()
        if len(vehicles) < count:
            raise ValueError(
                f"vehicles: count {count} is more than the {len(vehicles)} vehicles of trace {self.path}; "
                "lower vehicles.count or write a longer trace"
            )
        return track_from_rows(list(vehicles.values())[:count], times_s, self.rsu, self.rsu_height_m)


Mobility = Road | FcdTrace | SumoDrive
"""Where vehicles drive: the built-in road, a SUMO trace, or SUMO itself."""


def track_of(mobility: Mobility, count: int, times_s: np.ndarray, rng: np.random.Generator) -> Track:
    """The track of ``count`` vehicles under ``mobility`` (``rng`` draws the road's starts and
    speeds, or SUMO's seed; a trace draws nothing)."""
    if isinstance(mobility, Road):
        return road_track(mobility, count, times_s, rng)
    if isinstance(mobility, SumoDrive):
        return mobility.track(count, times_s, rng)
    return mobility.track(count, times_s)


@dataclass(frozen=True)
class SnrTable:
    """Each vehicle's SNR per slot (see :func:`snr_table`).

    :param db: [S, U] SNR in dB. :param slot_us: a slot's length. :param large_db: [T, U] the
        large-scale SNR at the track's sample times (no fast fading), for the results.
    """

    db: np.ndarray
    slot_us: float
    large_db: np.ndarray

    def __call__(self, vehicles: np.ndarray, time_us: float) -> np.ndarray:
        """[K] SNR of ``vehicles`` in the slot holding ``time_us`` (the last slot's beyond the table)."""
        row = min(int(time_us // self.slot_us), self.db.shape[0] - 1)
        return self.db[max(row, 0), vehicles]


def snr_table(
    track: Track,
    budget: LinkBudget,
    numerology: Numerology,
    fading: str,
    duration_us: float,
    rng: np.random.Generator,
    receiver: Receiver = RSU,
) -> SnrTable:
    """Every vehicle's SNR per slot over ``duration_us`` (see the module docstring); power
    control assumes each vehicle uses an equal share of the carrier's blocks. ``rng`` draws the
    large-scale loss's randomness (shadowing; a TR 38.901 site's LOS states first), then each
    vehicle's fading process in turn."""
    moved = np.zeros_like(track.ground_m)
    if track.xy.shape[0] > 1:
        moved[1:] = np.hypot(*np.moveaxis(np.diff(track.xy, axis=0), -1, 0))
    loss = receiver.loss_db(track, budget, moved, rng)
    large = budget.snr_db(loss, numerology.resource_blocks / max(track.vehicles, 1))
    slots = max(1, math.ceil(duration_us / numerology.slot_us))
    times_s = (np.arange(slots) + 0.5) * numerology.slot_us * 1e-6
    db = np.stack([np.interp(times_s, track.times_s, large[:, u]) for u in range(track.vehicles)], axis=1)
    if fading == "rayleigh":
        flat = TapProfile(np.ones(1), np.zeros(1), False)
        for u in range(track.vehicles):
            process = FadingProcess(flat, doppler_hz(float(track.speeds_kmh[u]), budget.carrier_ghz), rng)
            power = np.abs(process.taps(times_s)[:, 0]) ** 2
            db[:, u] += 10.0 * np.log10(np.maximum(power, 1e-6))
    return SnrTable(db, numerology.slot_us, large)
