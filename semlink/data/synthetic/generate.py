"""Drawing one drive's world at random: layout, look, buildings, vehicles, people, poles."""

from __future__ import annotations

import math

import numpy as np

from semlink.data.synthetic.world import (
    BUILDING,
    BUS,
    CAR,
    FENCE,
    TRAIN,
    TRUCK,
    VEGETATION,
    WALL,
    Box,
    Color,
    Layout,
    Look,
    Person,
    Pole,
    Thing,
    Tree,
    World,
    nearest_z,
)

Rng = np.random.Generator

CAR_COLORS: tuple[Color, ...] = (
    (200, 200, 205),
    (30, 30, 35),
    (120, 124, 130),
    (160, 30, 30),
    (25, 50, 120),
    (230, 230, 225),
    (70, 90, 70),
    (150, 120, 80),
    (90, 20, 30),
    (60, 60, 70),
)
FACADE_COLORS: tuple[Color, ...] = (
    (150, 140, 130),
    (180, 165, 140),
    (120, 110, 105),
    (170, 120, 95),
    (200, 195, 180),
    (95, 95, 100),
    (140, 150, 160),
    (190, 170, 150),
    (110, 80, 70),
    (160, 160, 150),
)
CLOTHES: tuple[Color, ...] = (
    (30, 30, 40),
    (200, 200, 200),
    (150, 30, 40),
    (40, 60, 120),
    (90, 90, 90),
    (180, 150, 60),
    (60, 100, 60),
    (120, 80, 50),
    (20, 20, 20),
    (200, 120, 150),
)
SKINS: tuple[Color, ...] = ((235, 200, 170), (200, 150, 110), (140, 95, 60), (90, 60, 40))


def pick(rng: Rng, options: tuple[Color, ...]) -> Color:
    """One of ``options`` at random."""
    return options[int(rng.integers(len(options)))]


def vary(rng: Rng, color: Color, amount: int = 20) -> Color:
    """``color`` with each channel moved by up to ``amount``."""
    r, g, b = (int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)
    return r, g, b


def across(a: float, b: float) -> tuple[float, float]:
    """Two X values in increasing order."""
    return (a, b) if a <= b else (b, a)


def make_world(rng: Rng, length: float) -> World:
    """A drive of ``length`` metres plus what is visible beyond its end."""
    layout = make_layout(rng)
    world = World(layout=layout, look=make_look(rng))
    reach = length + 160.0
    for side in (-1, 1):
        add_roadside(rng, world, side, reach)
        add_poles(rng, world, side, reach)
        add_pedestrians(rng, world, side, reach)
    add_traffic(rng, world, reach)
    add_dashes(rng, world, reach)
    world.backdrop.sort(key=nearest_z, reverse=True)
    world.things.sort(key=nearest_z, reverse=True)
    return world


def make_layout(rng: Rng) -> Layout:
    """Lanes, lane width and sidewalks, with the camera in one of the lanes."""
    lanes = int(rng.choice([2, 2, 3, 4]))
    lane_width = float(rng.uniform(3.0, 3.6))
    own = int(rng.integers(lanes // 2, lanes))  # the camera drives in a right-hand lane
    left = -(own + 0.5) * lane_width
    return Layout(
        left, left + lanes * lane_width, lane_width, float(rng.uniform(2.0, 4.5)), float(rng.uniform(2.0, 4.5))
    )


def make_look(rng: Rng) -> Look:
    """Time of day, weather and camera quality."""
    kind = rng.choice(["sunny", "overcast", "dusk", "fog", "rain"], p=[0.35, 0.25, 0.15, 0.12, 0.13])
    if kind == "dusk":
        brightness, tint = rng.uniform(0.45, 0.7), (1.1, 0.92, 0.8)
        top, horizon = (40, 50, 90), (230, 150, 100)
    elif kind == "sunny":
        brightness, tint = rng.uniform(0.95, 1.15), (1.0, 1.0, 0.97)
        top, horizon = (60, 120, 200), (170, 200, 230)
    else:
        brightness, tint = rng.uniform(0.7, 0.9), (0.95, 0.98, 1.05)
        top, horizon = (150, 155, 165), (200, 202, 205)
    fog = float(rng.uniform(60, 160)) if kind == "fog" else float(rng.choice([math.inf, 400.0]))
    return Look(
        brightness=float(brightness),
        tint=tint,
        sky_top=vary(rng, top, 15),
        sky_horizon=vary(rng, horizon, 15),
        clouds=float(rng.uniform(0.0, 0.8)),
        fog_distance=fog,
        fog_color=(190, 192, 195),
        rain=float(rng.uniform(0.3, 1.0)) if kind == "rain" else 0.0,
        noise=float(rng.uniform(1.0, 4.0)),
        blur=float(rng.uniform(0.0, 1.0)),
        road_color=vary(rng, (95, 95, 100), 12),
    )


def add_roadside(rng: Rng, world: World, side: int, reach: float) -> None:
    """Buildings, parks and walled lots along one side, in segments."""
    layout = world.layout
    edge = layout.road_right + layout.sidewalk_right if side > 0 else layout.road_left - layout.sidewalk_left
    z = float(rng.uniform(-10.0, 0.0))
    while z < reach:
        kind = rng.choice(["building", "park", "lot"], p=[0.6, 0.28, 0.12])
        span = float(rng.uniform(8.0, 30.0))
        if kind == "building":
            add_building(rng, world, side, edge, z, span)
        elif kind == "park":
            add_park(rng, world, side, edge, z, span)
        else:
            add_lot(rng, world, side, edge, z, span)
        z += span + float(rng.uniform(0.0, 3.0))


def add_building(rng: Rng, world: World, side: int, edge: float, z: float, span: float) -> None:
    """One building of random height and colour, set back a little from the sidewalk."""
    setback = float(rng.choice([0.0, rng.uniform(0.5, 4.0)]))
    depth = 15.0
    near_x = edge + side * setback
    x0, x1 = sorted((near_x, near_x + side * depth))
    top = float(rng.uniform(6.0, 28.0))
    color = vary(rng, pick(rng, FACADE_COLORS))
    world.backdrop.append(Box("building", x0, x1, z, z + span, top, BUILDING, color, detail=float(rng.random())))
    if setback > 1.0 and rng.random() < 0.5:
        top = float(rng.uniform(0.6, 1.2))
        world.backdrop.append(
            Box("hedge", *across(edge, edge + side * 0.8), z, z + span, top, VEGETATION, (60, 95, 40))
        )


def add_park(rng: Rng, world: World, side: int, edge: float, z: float, span: float) -> None:
    """Trees and hedges on grass."""
    for tz in np.arange(z, z + span, float(rng.uniform(4.0, 8.0))):
        x = edge + side * float(rng.uniform(2.0, 12.0))
        world.backdrop.append(make_tree(rng, x, float(tz)))
    if rng.random() < 0.5:
        top = float(rng.uniform(1.0, 2.5))
        color = vary(rng, (55, 90, 35))
        world.backdrop.append(
            Box("hedge", *across(edge + side, edge + side * 2.0), z, z + span, top, VEGETATION, color)
        )


def add_lot(rng: Rng, world: World, side: int, edge: float, z: float, span: float) -> None:
    """A wall or a fence on the sidewalk's outer edge with something behind it."""
    is_wall = bool(rng.random() < 0.5)
    top = float(rng.uniform(1.0, 2.6))
    x0, x1 = sorted((edge, edge + side * 0.3))
    if is_wall:
        box = Box("wall", x0, x1, z, z + span, top, WALL, vary(rng, (150, 145, 135), 25))
    else:
        box = Box("fence", x0, x1, z, z + span, top, FENCE, vary(rng, (120, 110, 95), 25), detail=float(rng.random()))
    world.things.append(box)
    if rng.random() < 0.6:
        add_building(rng, world, side, edge + side * float(rng.uniform(4.0, 10.0)), z, span)
    else:
        world.backdrop.append(make_tree(rng, edge + side * float(rng.uniform(3.0, 8.0)), z + span / 2))


def make_tree(rng: Rng, x: float, z: float) -> Tree:
    """A tree of random size and shade."""
    return Tree(
        x,
        z,
        float(rng.uniform(1.5, 3.5)),
        float(rng.uniform(2.0, 4.5)),
        vary(rng, (70, 105, 45), 25),
        int(rng.integers(1 << 30)),
    )


def add_poles(rng: Rng, world: World, side: int, reach: float) -> None:
    """Poles on the sidewalk's road edge, many with signs or traffic lights; street trees."""
    layout = world.layout
    curb = layout.road_right + 0.5 if side > 0 else layout.road_left - 0.5
    z = float(rng.uniform(3.0, 12.0))
    while z < reach:
        roll = rng.random()
        if roll < 0.3:
            pole = Pole(
                curb,
                z,
                float(rng.uniform(2.6, 3.4)),
                0.05,
                sign=str(rng.choice(["circle", "triangle", "square", "diamond"])),
                sign_color=pick(rng, ((200, 30, 30), (30, 70, 170), (240, 240, 240), (240, 200, 30))),
            )
        elif roll < 0.5:
            arm = float(rng.uniform(2.0, 5.0)) if rng.random() < 0.5 else 0.0
            pole = Pole(
                curb, z, float(rng.uniform(3.5, 5.5)), 0.08, light=True, lit=int(rng.integers(3)), arm=arm * -side
            )
        elif roll < 0.7:
            pole = Pole(curb, z, float(rng.uniform(6.0, 9.0)), 0.1, arm=float(rng.uniform(1.0, 2.0)) * -side)
        else:
            world.things.append(make_tree(rng, curb + side * 0.4, z))
            z += float(rng.uniform(6.0, 14.0))
            continue
        world.things.append(pole)
        z += float(rng.uniform(7.0, 18.0))


def add_pedestrians(rng: Rng, world: World, side: int, reach: float) -> None:
    """People walking on the sidewalk, some in groups."""
    layout = world.layout
    inner = layout.road_right if side > 0 else layout.road_left
    width = layout.sidewalk_right if side > 0 else layout.sidewalk_left
    z = float(rng.uniform(3.0, 12.0))
    while z < reach:
        for _ in range(int(rng.choice([1, 1, 2, 3]))):
            x = inner + side * float(rng.uniform(0.6, width - 0.3))
            world.things.append(make_person(rng, x, z + float(rng.uniform(0.0, 1.5))))
        if rng.random() < 0.12:  # a bicycle ridden on the sidewalk or crossing
            x = inner + side * float(rng.uniform(0.8, width - 0.5))
            world.things.append(make_person(rng, x, z + 2.0, "bicycle", bool(rng.random() < 0.6)))
        z += float(rng.exponential(9.0)) + 2.0


def make_person(rng: Rng, x: float, z: float, cycle: str = "", side_view: bool = False) -> Person:
    """A person of random height and clothes, optionally riding."""
    return Person(
        x, z, float(rng.uniform(1.55, 1.95)), pick(rng, CLOTHES), pick(rng, CLOTHES), pick(rng, SKINS), cycle, side_view
    )


def add_traffic(rng: Rng, world: World, reach: float) -> None:
    """Vehicles in every lane and parked along the edges; now and then a tram."""
    layout = world.layout
    for lane in range(layout.lanes):
        centre = layout.road_left + (lane + 0.5) * layout.lane_width
        oncoming = centre < -layout.lane_width / 2 and layout.lanes > 2 and lane < layout.lanes // 2
        z = float(rng.uniform(5.0, 15.0)) if abs(centre) > 0.5 else float(rng.uniform(7.0, 25.0))
        while z < reach:
            thing = make_vehicle(rng, centre + float(rng.uniform(-0.3, 0.3)), z, oncoming)
            world.things.append(thing)
            z = nearest_z(thing) + vehicle_length(thing) + float(rng.exponential(22.0)) + 3.0
    for side in (-1, 1):
        add_parked(rng, world, side, reach)
    if rng.random() < 0.08:
        centre = layout.road_left + 0.5 * layout.lane_width
        z = float(rng.uniform(15.0, 60.0))
        world.things.append(
            Box(
                "train",
                centre - 1.3,
                centre + 1.3,
                z,
                z + 28.0,
                3.4,
                TRAIN,
                vary(rng, (200, 200, 60), 40),
                oncoming=True,
            )
        )


def vehicle_length(thing: Thing) -> float:
    """Length along Z of a vehicle (a small gap for a rider)."""
    return thing.z1 - thing.z0 if isinstance(thing, Box) else 2.0


def make_vehicle(rng: Rng, centre: float, z: float, oncoming: bool) -> Thing:
    """A car (mostly), truck, bus, motorcycle or bicycle rider in a lane."""
    kind = rng.choice(["car", "truck", "bus", "motorcycle", "bicycle"], p=[0.74, 0.08, 0.07, 0.05, 0.06])
    if kind in ("motorcycle", "bicycle"):
        return make_person(rng, centre + float(rng.uniform(-0.5, 0.5)), z, str(kind), False)
    width, length, top, label = {
        "car": (rng.uniform(1.7, 1.95), rng.uniform(3.9, 4.9), rng.uniform(1.4, 1.65), CAR),
        "truck": (2.45, rng.uniform(6.0, 9.0), rng.uniform(2.8, 3.6), TRUCK),
        "bus": (2.55, rng.uniform(11.0, 12.5), 3.1, BUS),
    }[str(kind)]
    color = pick(rng, CAR_COLORS) if kind == "car" else vary(rng, pick(rng, CAR_COLORS[:6]), 10)
    return Box(
        str(kind),
        centre - width / 2,
        centre + width / 2,
        z,
        z + float(length),
        float(top),
        label,
        color,
        oncoming=oncoming,
        detail=float(rng.random()),
    )


def add_parked(rng: Rng, world: World, side: int, reach: float) -> None:
    """Cars parked along one edge of the road, in runs with gaps."""
    layout = world.layout
    edge = layout.road_right if side > 0 else layout.road_left
    if rng.random() < 0.55:
        return
    z = float(rng.uniform(3.0, 10.0))
    while z < reach:
        if rng.random() < 0.55:
            centre = edge - side * 1.1
            world.things.append(make_vehicle_parked(rng, centre, z))
        z += float(rng.uniform(5.0, 9.0))


def make_vehicle_parked(rng: Rng, centre: float, z: float) -> Box:
    """A parked car."""
    width, length = float(rng.uniform(1.7, 1.9)), float(rng.uniform(3.9, 4.7))
    return Box(
        "car",
        centre - width / 2,
        centre + width / 2,
        z,
        z + length,
        float(rng.uniform(1.4, 1.6)),
        CAR,
        pick(rng, CAR_COLORS),
        detail=float(rng.random()),
    )


def add_dashes(rng: Rng, world: World, reach: float) -> None:
    """Dashed lines between lanes."""
    layout = world.layout
    period, dash = float(rng.uniform(8.0, 12.0)), float(rng.uniform(2.5, 4.0))
    phase = float(rng.uniform(0.0, period))
    for lane in range(1, layout.lanes):
        x = layout.road_left + lane * layout.lane_width
        for z in np.arange(phase - period, reach, period):
            world.dashes.append((float(z), float(z) + dash, x))
