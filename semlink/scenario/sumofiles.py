"""The precheck of ``mobility: sumo`` (:func:`sumo_problems`): SUMO installed, its network and route
files readable, the routes on the network's edges, enough vehicles, the network within a TR 38.901
receiver's cell. Standard library only, like the rest of :mod:`semlink.scenario.precheck`.

Vehicles are counted from the route file: each ``vehicle`` and ``trip``, and each ``flow``'s
``number`` (or, with an ``end``, its ``period`` or ``vehsPerHour`` over ``end - begin``); a flow
by ``probability`` or without an end counts as unbounded and skips the count's check (SUMO's run
refuses a drive with too few vehicles in one line all the same).
"""

from __future__ import annotations

import importlib.util
import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

from semlink.scenario.vehicles import VehiclesSpec

INSTALL = "pip install 'semlink[sumo]'"
"""How to install SUMO for semlink (:data:`semlink.channel.cell.sumo.INSTALL`)."""
ROUTE_EDGES = ("from", "to")
"""A trip's or flow's attributes naming one edge each (``via`` names several)."""


def beyond_cell(spec: VehiclesSpec, distance_m: float, what: str, fix: str) -> Iterator[str]:
    """``what`` reaching ``distance_m`` from a TR 38.901 receiver, if that is beyond its cell."""
    radius = spec.cell_radius_m
    if radius is not None and distance_m > radius:
        yield (
            f"vehicles: {what} reaches {distance_m:.0f} m from the {spec.receiver} base station, beyond its cell "
            f"(radius {radius:.0f} m, TR 38.901's ISD / sqrt(3)); {fix}"
        )


def sumo_problems(spec: VehiclesSpec) -> Iterator[str]:
    """Every problem of a ``mobility: sumo`` section, SUMO's absence first."""
    if importlib.util.find_spec("libsumo") is None:
        yield f"vehicles.mobility sumo runs SUMO, which is not installed: {INSTALL}"
    assert spec.network is not None and spec.routes is not None  # the schema demands both
    missing = False
    for field, path, made in (("network", spec.network, "netconvert"), ("routes", spec.routes, "a .rou.xml file")):
        if not Path(path).is_file():
            missing = True
            yield f"vehicles.{field} {path!r} is not a file; give a SUMO {field} file ({made})"
    if missing:
        return
    try:
        edges, boundary = network_outline(spec.network)
    except (OSError, ElementTree.ParseError) as error:
        yield f"vehicles.network {spec.network!r} cannot be read as XML ({error}); give a SUMO .net.xml file"
        return
    try:
        root = ElementTree.parse(spec.routes).getroot()
    except (OSError, ElementTree.ParseError) as error:
        yield f"vehicles.routes {spec.routes!r} cannot be read as XML ({error}); give a SUMO route file"
        return
    for tag, name, edge in route_edges(root):
        if edge not in edges:
            yield (
                f"vehicles.routes {spec.routes!r}: {tag} {name!r} drives on edge {edge!r}, which network "
                f"{spec.network!r} lacks; route the vehicles over the network's edges"
            )
            break
    most, defined = max(spec.counts), vehicle_count(root)
    if defined is not None and defined < most:
        yield (
            f"vehicles.count {most} is more than the {defined} vehicles routes {spec.routes!r} defines; "
            "lower vehicles.count or add vehicles to the routes"
        )
    if boundary is not None and spec.rsu is not None:
        x0, y0, x1, y1 = boundary
        farthest = max(math.hypot(x - spec.rsu[0], y - spec.rsu[1]) for x in (x0, x1) for y in (y0, y1))
        yield from beyond_cell(spec, farthest, f"network {spec.network!r}", "move rsu or give a smaller network")


def network_outline(path: str) -> tuple[set[str], tuple[float, float, float, float] | None]:
    """A SUMO network's edge ids and its boundary (``convBoundary``: x0, y0, x1, y1; None if absent)."""
    edges: set[str] = set()
    boundary = None
    for _, element in ElementTree.iterparse(path, events=("end",)):
        if element.tag == "edge" and element.get("id"):
            edges.add(str(element.get("id")))
        elif element.tag == "location" and element.get("convBoundary"):
            try:
                x0, y0, x1, y1 = (float(v) for v in str(element.get("convBoundary")).split(","))
                boundary = (x0, y0, x1, y1)
            except ValueError:
                boundary = None
        element.clear()
    return edges, boundary


def route_edges(root: ElementTree.Element) -> Iterator[tuple[str, str, str]]:
    """(tag, id, edge) for every edge a route, trip or flow of a route file names."""
    for element in root.iter():
        name = str(element.get("id", "?"))
        if element.tag == "route":
            for edge in str(element.get("edges", "")).split():
                yield "route", name, edge
        elif element.tag in ("trip", "flow", "vehicle"):
            for key in ROUTE_EDGES:
                if element.get(key):
                    yield element.tag, name, str(element.get(key))
            for edge in str(element.get("via", "")).split():
                yield element.tag, name, edge


def vehicle_count(root: ElementTree.Element) -> int | None:
    """The vehicles a route file defines (see the module docstring); None when a flow is unbounded."""
    total = 0
    for element in root.iter():
        if element.tag in ("vehicle", "trip"):
            total += 1
        elif element.tag == "flow":
            flow = flow_count(element)
            if flow is None:
                return None
            total += flow
    return total


def flow_count(flow: ElementTree.Element) -> int | None:
    """A flow's vehicles: its ``number``, or its period over ``end - begin``; None if unbounded."""
    try:
        if flow.get("number") is not None:
            return int(float(str(flow.get("number"))))
        if flow.get("end") is None:
            return None
        span = float(str(flow.get("end"))) - float(str(flow.get("begin", "0")))
        if flow.get("period") is not None:
            period = float(str(flow.get("period")))
        elif flow.get("vehsPerHour") is not None:
            period = 3600.0 / float(str(flow.get("vehsPerHour")))
        else:
            return None
    except (ValueError, ZeroDivisionError):
        return None  # SUMO's own message, when it runs, names what it cannot read
    return max(0, math.ceil(span / period)) if period > 0 else None
