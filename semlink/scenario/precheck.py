"""The checks a scenario passes before anything heavy is imported.

:func:`precheck` looks at names and files only (codecs, channel models, metrics, segmenters and
frame sources against :mod:`semlink.catalog` and the installed entry points; dataset roots,
trace files and segmenter files on disk), using the standard library, so a misspelt name or a
wrong path is refused in a fraction of a second. What needs the components themselves (a
codec's settings, a checkpoint's classes) is checked afterwards, when the points are built.
"""

from __future__ import annotations

import importlib.util
import math
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from semlink.catalog import FILES, name_problem
from semlink.scenario.schema import Scenario, ScenarioError
from semlink.scenario.sumofiles import beyond_cell, sumo_problems
from semlink.scenario.vehicles import VehiclesSpec

FILE_SOURCES = ("camvid", "cityscapes", "folder")
MAX_FRAME_SIDE = 16_384
"""Longest side of a frame (``data.size``), in pixels."""
MAX_FRAME_PIXELS = 64 * 2**20
"""Most pixels of a frame (8192x8192): its image, labels and the networks' activations must fit in memory."""
TCP_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+")
"""A TCP host in an address: an IPv6 address in brackets, an IPv4 address, a host or interface name."""
SEGMENTER_FILES = (".pt2", ".pt", ".ts", ".jit", ".torchscript")


def precheck(scenario: Scenario, origin: str) -> None:
    """Refuse a scenario whose names or files are wrong, in one line naming the first problem.

    :raises ScenarioError: ``scenario ORIGIN: <problem>`` (and how many more there are).
    """
    problems = list(scenario_problems(scenario))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ScenarioError(f"scenario {origin}: {problems[0]}{more}")


def scenario_problems(scenario: Scenario) -> Iterator[str]:
    """Every name and file problem of ``scenario``, in the order of its fields."""
    yield from data_problems(scenario)
    for spec in scenario.codecs:
        yield from named("codec", spec.name)
    model = scenario.channel["model"]  # a str: the schema checks it
    yield from named("channel model", model)
    yield from file_problems("channel model", model, scenario.channel, "channel")
    for entry in scenario.metrics:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str):
            yield from named("metric", name)
            yield from file_problems("metric", name, entry if isinstance(entry, dict) else {}, f"metrics[{name}]")
    for spec in as_list(scenario.segmenter):
        yield from segmenter_problems(spec)
    yield from vehicle_problems(scenario)
    yield from address_problems(scenario)
    yield from key_problems(scenario.network.security, scenario.network.keys)
    if scenario.tracking.mlflow is not None and importlib.util.find_spec("mlflow") is None:
        yield "tracking.mlflow needs MLflow, which is not installed: pip install 'semlink[tracking]'"


def named(kind: str, name: Any) -> Iterator[str]:
    """The problem with a component name, if any."""
    if isinstance(name, str):
        problem = name_problem(kind, name)
        if problem is not None:
            yield problem


def file_problems(kind: str, name: str, settings: dict[str, Any], where: str) -> Iterator[str]:
    """Each file a built-in component reads (:data:`semlink.catalog.FILES`) that is not on disk."""
    for key in FILES.get(kind, {}).get(name, ()):
        for path in as_list(settings.get(key)):
            if isinstance(path, str) and not Path(path).is_file():
                yield f"{where}.{key} {path!r} is not a file; give the path of an existing file"


def data_problems(scenario: Scenario) -> Iterator[str]:
    """The frame sizes, the frame source's name, and its folder for file-based sources."""
    yield from size_problems(scenario.data.size)
    source = scenario.data.source
    yield from named("frame source", source)
    root = scenario.data.root
    if root is not None and not Path(root).is_dir():
        yield f"data.root {root!r} is not a folder; give the dataset's folder"
    elif root is None and source == "camvid":
        from semlink.data.camvid import CAMVID_ENV, camvid_candidates, default_camvid_root

        if not default_camvid_root().is_dir():
            yield (
                f"CamVid is not in {' or '.join(map(str, camvid_candidates()))}; set {CAMVID_ENV} or data.root "
                "to the SegNet-layout CamVid folder"
            )


def size_problems(size: Any) -> Iterator[str]:
    """Frame sizes larger than a frame may be (:data:`MAX_FRAME_SIDE`, :data:`MAX_FRAME_PIXELS`):
    refused here, in a fraction of a second, rather than when the first frame is allocated."""
    sizes = size if isinstance(size, list) else [] if size is None else [size]
    for height, width in sizes:
        if max(height, width) > MAX_FRAME_SIDE or height * width > MAX_FRAME_PIXELS:
            yield (
                f"data.size {[height, width]} is too large a frame ({height * width:,} pixels); give at most "
                f"{MAX_FRAME_SIDE} pixels a side and {MAX_FRAME_PIXELS:,} in all (8192x8192)"
            )


def vehicle_problems(scenario: Scenario) -> Iterator[str]:
    """The ``vehicles:`` section against the channel and the disk: the ``cell`` model needs it, a
    trace must be a file, SUMO must be installed and its files readable, the road must hold the most
    vehicles asked for, and every vehicle must stay within a TR 38.901 receiver's cell."""
    spec = scenario.vehicles
    if spec is None:
        if scenario.channel["model"] == "cell":
            yield "channel model cell is shared by vehicles; add a vehicles: section (e.g. vehicles: {count: [1, 8]})"
        return
    if spec.mobility == "sumo":
        yield from sumo_problems(spec)
    if spec.trace is not None and not Path(spec.trace).is_file():
        yield f"vehicles.trace {spec.trace!r} is not a file; give a SUMO FCD output file (sumo --fcd-output)"
    elif spec.trace is not None:
        yield from trace_problems(spec.trace, max(spec.counts), spec)
    if spec.mobility == "road":
        most = max(spec.counts)
        need = -(-most // spec.lanes) * spec.spacing_m
        if need > spec.length_m:
            yield (
                f"vehicles: {most} vehicles at spacing_m={spec.spacing_m:g} on {spec.lanes} lanes need {need:g} m "
                f"of road, more than length_m={spec.length_m:g}; add lanes, lower the spacing or lengthen the road"
            )
        yield from road_reach_problems(spec)


def road_reach_problems(spec: VehiclesSpec) -> Iterator[str]:
    """The built-in road's far lane and ends against a TR 38.901 receiver's cell."""
    across = spec.rsu_offset_m + (spec.lanes - 1) * spec.lane_width_m
    radius = spec.cell_radius_m or 0.0
    longest = 2 * max(radius**2 - across**2, 0.0) ** 0.5
    fix = f"set vehicles.length_m to at most {math.floor(longest)}" if longest >= 1 else "bring the road nearer"
    yield from beyond_cell(spec, math.hypot(spec.length_m / 2, across), "the road", fix)


def trace_problems(path: str, most: int, spec: VehiclesSpec) -> Iterator[str]:
    """A SUMO FCD file that cannot be read, holds fewer vehicles than the most asked for, or whose
    first ``most`` vehicles leave a TR 38.901 receiver's cell."""
    try:
        vehicles = list(ElementTree.parse(path).getroot().iter("vehicle"))
    except (OSError, ElementTree.ParseError) as error:
        yield f"vehicles.trace {path!r} cannot be read as XML ({error}); give a SUMO FCD output file"
        return
    ids = list(dict.fromkeys(v.get("id") for v in vehicles))
    if len(ids) < most:
        yield (
            f"vehicles.count {most} is more than the {len(ids)} vehicles of trace {path!r}; "
            "lower vehicles.count or write a longer trace"
        )
    if spec.cell_radius_m is not None and spec.rsu is not None:
        chosen = set(ids[:most])
        farthest = 0.0
        for vehicle in vehicles:
            if vehicle.get("id") in chosen:
                try:
                    x, y = float(vehicle.get("x", "nan")), float(vehicle.get("y", "nan"))
                except ValueError:
                    continue  # the trace's reader names it
                if math.isfinite(x) and math.isfinite(y):
                    farthest = max(farthest, math.hypot(x - spec.rsu[0], y - spec.rsu[1]))
        yield from beyond_cell(spec, farthest, f"a vehicle of trace {path!r}", "move rsu or trim the trace")


def address_problems(scenario: Scenario) -> Iterator[str]:
    """Socket addresses (``network.*_bind``, ``network.*_connect``) that are not
    ``tcp://HOST:PORT`` or ``ipc://PATH``."""
    for node in ("channel", "receiver"):
        for side in ("bind", "connect"):
            address = getattr(scenario.network, f"{node}_{side}")
            if address is not None and not valid_address(address, side == "bind"):
                wildcard = " (HOST may be * or 0.0.0.0 to listen on every interface)" if side == "bind" else ""
                yield (
                    f"network.{node}_{side} {address!r} is not an address; write tcp://HOST:PORT with a port from "
                    f"1 to 65535{wildcard}, or ipc://PATH"
                )


def valid_address(address: str, bind: bool) -> bool:
    """Whether ``address`` is ``tcp://HOST:PORT`` (``*`` as HOST only to bind) or ``ipc://PATH``."""
    scheme, sep, rest = address.partition("://")
    if not sep or not rest:
        return False
    if scheme == "ipc":
        return True
    if scheme != "tcp":
        return False
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit() or not 1 <= int(port) <= 65535:
        return False
    if host == "*":
        return bind
    return bool(TCP_HOST.fullmatch(host))


def segmenter_problems(spec: Any) -> Iterator[str]:
    """A segmenter spec: a file that must exist, ``module:function``, or a registered name."""
    if not isinstance(spec, str):
        return
    if spec.endswith(SEGMENTER_FILES) or Path(spec).exists():
        if not Path(spec).is_file():
            yield (
                f"segmenter {spec!r} is not a file; give a torch.export program (.pt2), a checkpoint (.pt) "
                "or TorchScript (.ts) path"
            )
        return
    yield from named("segmenter", spec)


def as_list(value: Any) -> list[Any]:
    """``value`` as a list (an axis or one value; nothing for None)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def key_problems(security: str, keys: str | None) -> list[str]:
    """What is wrong with ``network.security``/``network.keys`` before anything loads (none without CURVE).

    Only the folder is checked here: a node alone on its host holds just the files its role
    reads (module docstring), and reports the one it lacks, by name, when it starts.
    """
    if security != "curve":
        return []
    if keys is None:
        return ["network.security is curve but network.keys names no key folder; set it"]
    if not Path(keys).is_dir():
        return [f"network.keys {keys!r} is not a folder; make keys with `semlink keys generate {keys}`"]
    return []
