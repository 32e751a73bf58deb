"""The picture of the road: each vehicle where it was halfway through its drive, coloured by its
mIoU, the roadside unit marked; one panel per codec and scheduler, at the largest vehicle count
(``vehicles.csv`` of a run with vehicles).

Example::

    drawn = plot_road(read_vehicle_rows(folder), rsu=(0.0, -20.0))
    save_figure(drawn.figure, folder / "road.png")
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import matplotlib.cm
import matplotlib.colors

from semlink.report.labels import describe
from semlink.report.plots import Drawn, new_figure
from semlink.results.rows import Row, number

VEHICLES_CSV = "vehicles.csv"
CONTEXT = frozenset({"point_key", "vehicle", "distance_m", "snr_db", "x_m", "y_m", "bpp", "bpp_wire", "miou",
                     "miou_lo", "miou_hi", "frames", "frames_in_time", "frames_concealed", "packets_late",
                     "packets_lost", "airtime_share", "vehicles.count"})  # fmt: skip
"""Columns of ``vehicles.csv`` that are not the point's settings."""
SITES = {"umi": "UMi", "uma": "UMa", "rma": "RMa"}
"""TR 38.901 sites a receiver can be, as the picture names them."""


def read_vehicle_rows(folder: Path) -> list[Row]:
    """The rows of ``folder/vehicles.csv`` ([] without one)."""
    path = folder / VEHICLES_CSV
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def receiver_name(folder: Path) -> str:
    """What the run's receiver is called in the picture: ``RSU``, or a TR 38.901 site's base station."""
    kind = str(_vehicles(folder).get("receiver") or "rsu")
    return f"{SITES[kind]} base station" if kind in SITES else "RSU"


def _vehicles(folder: Path) -> dict[str, object]:
    """The ``vehicles:`` section of the run's ``scenario.yaml`` ({} without one or unreadable)."""
    import yaml

    try:
        vehicles = (yaml.safe_load((folder / "scenario.yaml").read_text()) or {}).get("vehicles") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return vehicles if isinstance(vehicles, dict) else {}


def rsu_of(folder: Path) -> tuple[float, float] | None:
    """The receiver's place from the run's ``scenario.yaml`` (the road's RSU, or a trace's or SUMO
    network's ``rsu``; a TR 38.901 site stands there too); None without a readable section."""
    vehicles = _vehicles(folder)
    if not vehicles:
        return None
    try:
        place = vehicles.get("rsu")
        if isinstance(place, list | tuple) and len(place) == 2:
            return float(place[0]), float(place[1])
        return 0.0, -float(str(vehicles.get("rsu_offset_m", 20.0)))
    except ValueError:
        return None


def plot_road(rows: Sequence[Row], rsu: tuple[float, float] | None, receiver: str = "RSU") -> Drawn | None:
    """The road at the largest vehicle count: a panel per setting (codec, scheduler, ...), each
    vehicle a dot coloured by its mIoU on one shared scale, the receiver (named ``receiver``) a
    triangle; None without positions."""
    placed = [r for r in rows if number(r.get("x_m")) is not None and number(r.get("miou")) is not None]
    if not placed:
        return None
    most = max(int(number(r.get("vehicles.count")) or 0) for r in placed)
    shown = [r for r in placed if int(number(r.get("vehicles.count")) or 0) == most]
    settings = [c for c in shown[0] if c not in CONTEXT | {"codec"} and len({r.get(c) for r in shown}) > 1]
    panels: dict[str, list[Row]] = {}
    for row in shown:
        panels.setdefault(describe(row, ["codec", *settings]) or row["codec"], []).append(row)
    figure, axes = new_figure(len(panels), width=5.0, height=2.6)
    scale = matplotlib.colors.Normalize(vmin=0.0, vmax=max(float(number(r["miou"]) or 0.0) for r in shown) or 1.0)
    for ax, (title, members) in zip(axes, panels.items(), strict=True):
        xs = [number(r["x_m"]) or 0.0 for r in members]
        ys = [number(r["y_m"]) or 0.0 for r in members]
        ax.scatter(xs, ys, c=[number(r["miou"]) or 0.0 for r in members], cmap="viridis", norm=scale, s=28)
        if rsu is not None:
            ax.scatter([rsu[0]], [rsu[1]], marker="^", color="black", s=60)
            ax.annotate(receiver, rsu, textcoords="offset points", xytext=(6, -4), fontsize="small")
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("along the road (m)")
        ax.set_ylabel("across (m)")
        ax.grid(True, alpha=0.3)
    bar = figure.colorbar(matplotlib.cm.ScalarMappable(norm=scale, cmap="viridis"), ax=axes, shrink=0.8)
    bar.set_label("the vehicle's mIoU")
    figure.suptitle(f"{most} vehicles halfway through the drive, coloured by their mIoU")
    caption = (
        f"Each dot is one of the {most} vehicles where it was halfway through its drive, coloured by the mIoU "
        f"of its own frames at the receiver; the triangle is the {'roadside unit' if receiver == 'RSU' else receiver}."
    )
    return Drawn(figure, caption)
