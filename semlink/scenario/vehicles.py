"""The ``vehicles:`` section of a scenario: how many vehicles send, where they drive, where the
receiver stands.

Without the section a scenario is one camera on one link, as always. With it every point runs
``count`` vehicles (``count: [1, 4, 16]`` is an axis, the column ``vehicles.count``), each with
its own drive through the frame source, its own random streams and its own position over time:

- ``mobility: road`` (the default): the built-in straight road past a roadside unit
  (:class:`semlink.channel.cell.road.Road`: ``lanes``, ``spacing_m``, ``speed_kmh``,
  ``rsu_offset_m``, ...);
- ``mobility: trace``: positions read from a SUMO FCD output file (``trace: fcd.xml``, written by
  ``sumo --fcd-output``), the receiver at ``rsu: [x, y]`` in the trace's coordinates.

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
MAX_SHARES = 64
"""Most transmitter processes the vehicles are spread over (``per_process``); the wire's seal
numbers each one's messages apart (:mod:`semlink.wire.seal`)."""


class VehiclesSpec(BaseModel):
    """The ``vehicles:`` section (see the module docstring); fields of the road are the
    defaults of :class:`semlink.channel.cell.road.Road`."""

    model_config = ConfigDict(extra="forbid")

    count: int | list[int] = 1
    mobility: Literal["road", "trace"] = "road"
    lanes: int = Field(3, ge=1, le=8)
    lane_width_m: float = Field(3.5, gt=0, le=10)
    spacing_m: float = Field(25.0, gt=0, le=1000)
    speed_kmh: float = Field(100.0, ge=0, le=500)
    speed_spread: float = Field(0.1, ge=0, le=0.5)
    rsu_offset_m: float = Field(20.0, ge=0, le=10000)
    rsu_height_m: float = Field(10.0, ge=1.5, le=500)
    length_m: float = Field(2000.0, ge=1, le=100000)
    trace: str | None = None
    rsu: tuple[float, float] | None = None
    per_process: int | None = Field(None, ge=1, le=MAX_VEHICLES)

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

    @field_validator("trace")
    @classmethod
    def _absolute_trace(cls, value: str | None) -> str | None:
        """The trace as an absolute path (relative ones from the working folder), so node
        processes find it from the scenario copy they get."""
        return None if value is None else str(Path(value).expanduser().absolute())

    @model_validator(mode="after")
    def _mobility(self) -> VehiclesSpec:
        if self.mobility == "trace" and (self.trace is None or self.rsu is None):
            raise ValueError("vehicles: mobility: trace needs trace: FCD.xml (sumo --fcd-output) and rsu: [x, y]")
        if self.shares() > MAX_SHARES:
            raise ValueError(
                f"vehicles: per_process {self.per_process} spreads {max(self.counts)} vehicles over "
                f"{self.shares()} transmitter processes, more than {MAX_SHARES}; raise per_process"
            )
        if self.mobility == "road" and self.trace is not None:
            raise ValueError("vehicles: trace is read with mobility: trace only; set it or drop trace")
        return self

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
        point's numbers besides its own settings."""
        return self.model_dump(mode="json", exclude={"count", "per_process"})
