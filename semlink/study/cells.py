"""A study's cells: each realisation of a point whose vehicles share the ``cell`` channel model
gets one :class:`~semlink.channel.cell.group.CellPlan`, which all its vehicles' units point to."""

from __future__ import annotations

import functools
from typing import cast

from semlink.channel import build_channel
from semlink.channel.cell.geometry import FcdTrace, Mobility
from semlink.channel.cell.group import CellPlan
from semlink.channel.cell.model import CellChannel
from semlink.channel.cell.receiver import Receiver
from semlink.channel.cell.road import Road
from semlink.channel.cell.sumo import SumoDrive
from semlink.scenario.schema import Scenario
from semlink.scenario.vehicles import VehiclesSpec
from semlink.study.trials import STREAM_CHANNEL, Trial, frame_interval_us, road_seed

CELL_MODEL = "cell"
"""The channel model whose vehicles share one carrier."""
STREAM_MEDIUM = 0x63656C6C
"""Marks the medium's draws in a realisation's channel entropy."""


def mobility_of(spec: VehiclesSpec) -> Mobility:
    """Where the vehicles of ``spec`` drive: the built-in road, the SUMO trace it names, or SUMO
    itself; the receiver at the RSU's height or its TR 38.901 site's."""
    height = spec.receiver_height_m
    if spec.mobility == "trace":
        assert spec.trace is not None and spec.rsu is not None  # the schema demands both
        return FcdTrace(spec.trace, (float(spec.rsu[0]), float(spec.rsu[1])), height)
    if spec.mobility == "sumo":
        assert spec.network is not None and spec.routes is not None and spec.rsu is not None  # as for a trace
        return SumoDrive(spec.network, spec.routes, (float(spec.rsu[0]), float(spec.rsu[1])), height, spec.begin_s)
    return Road(
        lanes=spec.lanes,
        lane_width_m=spec.lane_width_m,
        spacing_m=spec.spacing_m,
        speed_kmh=spec.speed_kmh,
        speed_spread=spec.speed_spread,
        rsu_offset_m=spec.rsu_offset_m,
        rsu_height_m=height,
        length_m=spec.length_m,
    )


def cell_plan(scenario: Scenario, trial: Trial, frames: int) -> CellPlan | None:
    """The cell of ``trial``'s realisation (None unless its point's vehicles share the ``cell`` model)."""
    point = trial.point
    if point.channel != CELL_MODEL or scenario.vehicles is None:
        return None
    make = cast("functools.partial[CellChannel]", functools.partial(build_channel, CELL_MODEL, **point.params))
    deadline = point.link.deadline_ms
    seed = scenario.seeds[trial.repeat] if scenario.seeds is not None else scenario.seed
    return CellPlan(
        group=trial.group,
        vehicles=point.vehicles,
        make_model=make,
        mobility=mobility_of(scenario.vehicles),
        frames=frames,
        frame_interval_us=frame_interval_us(point.link.fps),
        deadline_us=None if deadline is None else round(deadline * 1000),
        road_seed=road_seed(scenario, trial),
        medium_seed=(seed, STREAM_CHANNEL, point.key_id, trial.repeat, STREAM_MEDIUM),
        receiver=Receiver(scenario.vehicles.receiver, scenario.vehicles.rsu_pathloss),
    )
