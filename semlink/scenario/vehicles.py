"""The ``vehicles:`` section of a scenario: how many vehicles send, where they drive, where the
receiver stands.

Without the section a scenario is one camera on one link, as always. With it every point runs
``count`` vehicles (``count: [1, 4, 16]`` is an axis, the column ``vehicles.count``), each with
its own drive through the frame source, its own random streams and its own position over time:

- ``mobility: road`` (the default): the built-in straight road past a roadside unit
  (:class:`semlink.channel.cell.road.Road`: ``lanes``, ``spacing_m``, ``speed_kmh``,
  ``rsu_offset_m``, ...);
- ``mobility: trace``: positions read from a SUMO FCD output file (``trace: fcd.xml``, written by
  ``sumo --fcd-output``), the receiver at ``rsu: [x, y]`` in the trace's coordinates;
- ``mobility: sumo``: vehicles driven by SUMO itself (the extra ``semlink[sumo]``) over a network
  and route file (``network: hw.net.xml``, ``routes: r.rou.xml``, ``begin_s``: SUMO's time at which
  the drive starts), the receiver at ``rsu: [x, y]`` in the network's coordinates
  (:class:`semlink.channel.cell.sumo.SumoDrive`).

The receiver is the roadside unit (``receiver: rsu``, the default; ``rsu_pathloss: umi_los`` or
``highway``) or the base station of a TR 38.901 site (``receiver: umi``, ``uma`` or ``rma``, at the
scenario's height, where the RSU would stand; :mod:`semlink.channel.cell.receiver`).

``per_process: K`` spreads the vehicles over transmitter processes, ``K`` each (vehicles ``0..K-1``
in the first, and so on; default: all in one); the rows are the same however they are spread.

With ``channel: {model: cell}`` the vehicles share one carrier under a scheduler
(:mod:`semlink.channel.cell`); with any other channel model each vehicle has a link of its own.

Example::

    vehicles: {count: [1, 8, 32], lanes: 3, spacing_m: 20, speed_kmh: 100}
    channel: {model: cell, scheduler: [round_robin, semantic], bandwidth_mhz: 20}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_VEHICLES = 1024
"""Most vehicles in one point (each is a realisation the receiver scores)."""
RSU_HEIGHT_M = 10.0
"""The RSU's antenna height unless ``rsu_height_m`` says otherwise."""
RECEIVERS = ("rsu", "umi", "uma", "rma")
"""The receivers: the road's RSU or a TR 38.901 site (:data:`semlink.channel.cell.receiver.RECEIVERS`)."""
SITE_HEIGHTS_M = {"umi": 10.0, "uma": 25.0, "rma": 35.0}
"""A TR 38.901 site's antenna height (the scenario's; :data:`semlink.channel.cell.receiver.SITES`)."""
SITE_ISD_M = {"umi": 200.0, "uma": 500.0, "rma": 1732.0}
"""A TR 38.901 site's inter-site distance (its cell's radius is ``ISD / sqrt(3)``)."""
KEYLESS_DEFAULTS: dict[str, object] = {
    "network": None,
    "routes": None,
    "begin_s": 0.0,
    "receiver": "rsu",
    "rsu_pathloss": "umi_los",
}
"""Fields added after points had keys: left out of :meth:`VehiclesSpec.geometry` at these values,
so a scenario without them keeps its point keys and rows."""
MAX_SHARES = 64
"""Most transmitter processes the vehicles are spread over (``per_process``); the wire's seal
numbers each one's messages apart (:mod:`semlink.wire.seal`)."""


class VehiclesSpec(BaseModel):
    """The ``vehicles:`` section (see the module docstring); fields of the road are the
    defaults of :class:`semlink.channel.cell.road.Road`."""

    model_config = ConfigDict(extra="forbid")

    count: int | list[int] = 1
    mobility: Literal["road", "trace", "sumo"] = "road"
    lanes: int = Field(3, ge=1, le=8)
    lane_width_m: float = Field(3.5, gt=0, le=10)
    spacing_m: float = Field(25.0, gt=0, le=1000)
    speed_kmh: float = Field(100.0, ge=0, le=500)
    speed_spread: float = Field(0.1, ge=0, le=0.5)
    rsu_offset_m: float = Field(20.0, ge=0, le=10000)
    rsu_height_m: float = Field(RSU_HEIGHT_M, ge=1.5, le=500)
    length_m: float = Field(2000.0, ge=1, le=100000)
    trace: str | None = None
    rsu: tuple[float, float] | None = None
    per_process: int | None = Field(None, ge=1, le=MAX_VEHICLES)
    network: str | None = None
    routes: str | None = None
    begin_s: float = Field(0.0, ge=0, le=86400)
    receiver: Literal["rsu", "umi", "uma", "rma"] = "rsu"
    rsu_pathloss: Literal["umi_los", "highway"] = "umi_los"

    @field_validator("count")
    @classmethod
    def _counts(cls, value: int | list[int]) -> int | list[int]:
        counts = value if isinstance(value, list) else [value]
        if not counts:
            raise ValueError("vehicles.count is an empty list; give at least one count")
        for count in counts:
            if not 1 <= count <= MAX_VEHICLES:
                raise ValueError(f"vehicles.count {count} must be between 1 and {MAX_VEHICLES}")
        return value

    @field_validator("trace", "network", "routes")
    @classmethod
    def _absolute_path(cls, value: str | None) -> str | None:
        """A file as an absolute path (relative ones from the working folder), so node processes
        find it from the scenario copy they get."""
        return None if value is None else str(Path(value).expanduser().absolute())

    @model_validator(mode="after")
    def _mobility(self) -> VehiclesSpec:
        if self.mobility == "trace" and (self.trace is None or self.rsu is None):
            raise ValueError("vehicles: mobility: trace needs trace: FCD.xml (sumo --fcd-output) and rsu: [x, y]")
        if self.mobility == "sumo" and (self.network is None or self.routes is None or self.rsu is None):
            raise ValueError(
                "vehicles: mobility: sumo needs network: NET.net.xml (netconvert), routes: ROUTES.rou.xml "
                "and rsu: [x, y]"
            )
        if self.mobility != "sumo" and (self.network is not None or self.routes is not None or self.begin_s):
            raise ValueError(
                "vehicles: network, routes and begin_s are read with mobility: sumo only; set it or drop them"
            )
        if self.mobility != "trace" and self.trace is not None:
            raise ValueError("vehicles: trace is read with mobility: trace only; set it or drop trace")
        if self.receiver != "rsu" and self.rsu_height_m != RSU_HEIGHT_M:  # a dumped section reloads
            raise ValueError(
                f"vehicles: receiver {self.receiver} stands {SITE_HEIGHTS_M[self.receiver]:g} m up (TR 38.901); "
                "drop rsu_height_m"
            )
        if self.receiver != "rsu" and self.rsu_pathloss != "umi_los":
            raise ValueError(
                f"vehicles: rsu_pathloss is the RSU's; receiver {self.receiver} has TR 38.901's own: drop one of them"
            )
        if self.per_process is not None and "count" not in self.model_fields_set:
            raise ValueError(
                "per_process spreads the vehicles of a scenario that has some; give vehicles.count "
                "(a scenario without vehicles is one link: drop per_process)"
            )
        if self.shares() > MAX_SHARES:
            raise ValueError(
                f"vehicles: per_process {self.per_process} spreads {max(self.counts)} vehicles over "
                f"{self.shares()} transmitter processes, more than {MAX_SHARES}; raise per_process"
            )
        return self

    @property
    def receiver_height_m(self) -> float:
        """The receiver's antenna height: the RSU's ``rsu_height_m`` or the TR 38.901 site's."""
        return SITE_HEIGHTS_M.get(self.receiver, self.rsu_height_m)

    @property
    def cell_radius_m(self) -> float | None:
        """How far a vehicle may be from a TR 38.901 site (``ISD / sqrt(3)``); None for the RSU."""
        isd = SITE_ISD_M.get(self.receiver)
        return None if isd is None else isd / 3**0.5

    def shares(self) -> int:
        """Transmitter processes the vehicles are spread over: ``per_process`` vehicles each (the
        largest count's vehicles, so every point splits the same way); 1 without ``per_process``."""
        if self.per_process is None:
            return 1
        return -(-max(self.counts) // self.per_process)

    @property
    def counts(self) -> list[int]:
        """Every vehicle count the sweep runs."""
        return self.count if isinstance(self.count, list) else [self.count]

    def geometry(self) -> dict[str, object]:
        """Everything but ``count`` and ``per_process`` (neither changes a number): what shapes every
        point's numbers besides its own settings. Fields of :data:`KEYLESS_DEFAULTS` at their
        default are left out, so the scenarios written before them keep their point keys."""
        keyless = {name for name, default in KEYLESS_DEFAULTS.items() if getattr(self, name) == default}
        return self.model_dump(mode="json", exclude={"count", "per_process", *keyless})
