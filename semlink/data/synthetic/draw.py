"""Painting the world's things onto a :class:`Canvas`, far to near."""

from __future__ import annotations

import math

import numpy as np

from semlink.data.synthetic.canvas import Canvas, Color
from semlink.data.synthetic.world import (
    BICYCLE,
    LIGHT,
    MOTORCYCLE,
    PERSON,
    POLE,
    RIDER,
    ROAD,
    SIDEWALK,
    SIGN,
    TERRAIN,
    VEGETATION,
    Box,
    Person,
    Pole,
    Thing,
    Tree,
    World,
)

IMAGE_ONLY = -1
FAR = 400.0


def shade(color: Color, factor: float) -> Color:
    """``color`` scaled by ``factor`` (clipped)."""
    r, g, b = (max(0, min(255, round(c * factor))) for c in color)
    return r, g, b


def draw_ground(canvas: Canvas, world: World) -> None:
    """Terrain everywhere, then sidewalks with curbs, the road and its markings."""
    layout, z0 = world.layout, canvas.camera.position + canvas.camera.near
    z1 = canvas.camera.position + FAR

    def band(x0: float, x1: float, label: int, color: Color) -> None:
        canvas.polygon([(x0, 0, z0), (x1, 0, z0), (x1, 0, z1), (x0, 0, z1)], label, color)

    band(-300.0, 300.0, TERRAIN, (105, 125, 70))
    left_out, right_out = layout.road_left - layout.sidewalk_left, layout.road_right + layout.sidewalk_right
    band(left_out, layout.road_left, SIDEWALK, (165, 160, 155))
    band(layout.road_right, right_out, SIDEWALK, (165, 160, 155))
    band(layout.road_left - 0.2, layout.road_left, SIDEWALK, (200, 198, 192))
    band(layout.road_right, layout.road_right + 0.2, SIDEWALK, (200, 198, 192))
    band(layout.road_left, layout.road_right, ROAD, world.look.road_color)
    for x in (layout.road_left + 0.3, layout.road_right - 0.3):
        band(x - 0.08, x + 0.08, ROAD, (225, 225, 220))
    for start, stop, x in world.dashes:
        if stop > canvas.camera.position:
            canvas.polygon(
                [(x - 0.08, 0, start), (x + 0.08, 0, start), (x + 0.08, 0, stop), (x - 0.08, 0, stop)],
                ROAD,
                (230, 230, 225),
            )


def draw_thing(canvas: Canvas, thing: Thing) -> None:
    """Dispatch on the kind of thing; things behind the camera are skipped."""
    camera = canvas.camera
    far_end = thing.z1 if isinstance(thing, Box) else thing.z
    if far_end <= camera.position + camera.near or camera.depth(_near(thing)) > FAR:
        return
    if isinstance(thing, Box):
        draw_box(canvas, thing)
    elif isinstance(thing, Pole):
        draw_pole(canvas, thing)
    elif isinstance(thing, Tree):
        draw_tree(canvas, thing)
    else:
        draw_person(canvas, thing)


def _near(thing: Thing) -> float:
    return thing.z0 if isinstance(thing, Box) else thing.z


def draw_box(canvas: Canvas, box: Box) -> None:
    """The faces of a block the camera sees: the side toward the road, the top, the front."""
    camera = canvas.camera
    side_x = box.x1 if box.x1 < 0 else box.x0 if box.x0 > 0 else None
    if side_x is not None:
        canvas.polygon(
            [(side_x, 0, box.z0), (side_x, box.top, box.z0), (side_x, box.top, box.z1), (side_x, 0, box.z1)],
            box.label,
            shade(box.color, 0.8),
        )
        if box.kind == "building":
            draw_facade_windows(canvas, box, side_x)
        elif box.kind in ("bus", "train"):
            canvas.polygon(
                [
                    (side_x, box.top * 0.55, box.z0 + 0.5),
                    (side_x, box.top * 0.85, box.z0 + 0.5),
                    (side_x, box.top * 0.85, box.z1 - 0.5),
                    (side_x, box.top * 0.55, box.z1 - 0.5),
                ],
                box.label,
                (40, 50, 60),
            )
    if box.top < camera.height:
        canvas.polygon(
            [
                (box.x0, box.top, box.z0),
                (box.x1, box.top, box.z0),
                (box.x1, box.top, box.z1),
                (box.x0, box.top, box.z1),
            ],
            box.label,
            shade(box.color, 1.1),
        )
    if box.z0 > camera.position + camera.near:
        draw_front(canvas, box)


def draw_front(canvas: Canvas, box: Box) -> None:
    """The face at the box's near end, with vehicle details."""
    z, x0, x1, top = box.z0, box.x0, box.x1, box.top
    if box.kind not in ("car", "truck", "bus", "train"):
        canvas.polygon([(x0, 0, z), (x1, 0, z), (x1, top, z), (x0, top, z)], box.label, box.color)
        if box.kind == "fence":
            draw_fence_bars(canvas, box)
        return
    glass, width = (35, 40, 50), x1 - x0
    body_top = top * (0.62 if box.kind == "car" else 0.45)
    inset = width * (0.12 if box.kind == "car" else 0.03)
    canvas.polygon([(x0, 0.25, z), (x1, 0.25, z), (x1, body_top, z), (x0, body_top, z)], box.label, box.color)
    canvas.polygon(
        [(x0, body_top, z), (x1, body_top, z), (x1 - inset, top, z), (x0 + inset, top, z)], box.label, box.color
    )
    canvas.polygon(
        [
            (x0 + inset + 0.05, body_top + 0.05, z),
            (x1 - inset - 0.05, body_top + 0.05, z),
            (x1 - inset - 0.1, top - 0.06, z),
            (x0 + inset + 0.1, top - 0.06, z),
        ],
        box.label,
        glass,
    )
    for wx in (x0 + 0.05, x1 - 0.3):
        canvas.polygon([(wx, 0, z), (wx + 0.25, 0, z), (wx + 0.25, 0.3, z), (wx, 0.3, z)], box.label, (20, 20, 20))
    lamp = (240, 240, 220) if box.oncoming else (200, 20, 20)
    lamp_y = top * 0.45 if box.kind == "car" else 0.8
    for lx in (x0 + 0.1, x1 - 0.35):
        canvas.polygon(
            [(lx, lamp_y, z), (lx + 0.25, lamp_y, z), (lx + 0.25, lamp_y + 0.12, z), (lx, lamp_y + 0.12, z)],
            box.label,
            lamp,
        )


def draw_facade_windows(canvas: Canvas, box: Box, x: float) -> None:
    """A grid of windows on a facade (image only: windows are building in Cityscapes)."""
    camera = canvas.camera
    pitch = 2.5 + 2.0 * box.detail
    floors = int((box.top - 1.0) // 3.0)
    glass = shade((60, 70, 85), 0.8 + 0.6 * box.detail)
    for z in np.arange(box.z0 + 1.0, box.z1 - 1.0, pitch):
        if camera.focal * 1.2 / max(camera.depth(z), 1.0) < 2.0 or camera.depth(z) < camera.near:
            continue
        for floor in range(floors):
            y = 1.0 + 3.0 * floor
            canvas.polygon(
                [(x, y, z), (x, y + 1.6, z), (x, y + 1.6, z + pitch * 0.55), (x, y, z + pitch * 0.55)],
                IMAGE_ONLY,
                glass,
            )


def draw_fence_bars(canvas: Canvas, box: Box) -> None:
    """Vertical bars across a fence's face (image only)."""
    camera = canvas.camera
    depth = camera.depth(box.z0)
    x_left, y_top = camera.project((box.x0, box.top, box.z0))
    x_right, y_bottom = camera.project((box.x1, 0.0, box.z0))
    step = max(2.0, camera.focal * 0.15 / depth)
    for bx in np.arange(x_left, x_right, step):
        canvas.line([(bx, y_top), (bx, y_bottom)], 1, IMAGE_ONLY, (60, 55, 50), depth)


def draw_pole(canvas: Canvas, pole: Pole) -> None:
    """A pole, its arm and what it carries."""
    r = pole.radius
    canvas.polygon(
        [
            (pole.x - r, 0, pole.z),
            (pole.x + r, 0, pole.z),
            (pole.x + r, pole.top, pole.z),
            (pole.x - r, pole.top, pole.z),
        ],
        POLE,
        (120, 122, 125),
    )
    head_x = pole.x
    if pole.arm:
        head_x = pole.x + pole.arm
        lo, hi = sorted((pole.x, head_x))
        canvas.polygon(
            [
                (lo, pole.top - 0.12, pole.z),
                (hi, pole.top - 0.12, pole.z),
                (hi, pole.top, pole.z),
                (lo, pole.top, pole.z),
            ],
            POLE,
            (120, 122, 125),
        )
    if pole.light:
        draw_traffic_light(canvas, head_x, pole.top - (0.1 if pole.arm else 0.9), pole.z, pole.lit)
    elif pole.sign:
        draw_sign(canvas, pole)
    elif pole.arm:
        canvas.polygon(
            [
                (head_x - 0.3, pole.top - 0.2, pole.z),
                (head_x + 0.3, pole.top - 0.2, pole.z),
                (head_x + 0.3, pole.top, pole.z),
                (head_x - 0.3, pole.top, pole.z),
            ],
            POLE,
            (200, 200, 190),
        )


def draw_traffic_light(canvas: Canvas, x: float, top: float, z: float, lit: int) -> None:
    """A three-lamp signal head hanging from ``top``."""
    camera = canvas.camera
    canvas.polygon(
        [(x - 0.18, top - 0.9, z), (x + 0.18, top - 0.9, z), (x + 0.18, top, z), (x - 0.18, top, z)],
        LIGHT,
        (30, 30, 30),
    )
    depth = camera.depth(z)
    radius = camera.focal * 0.1 / depth
    for lamp, color in enumerate(((230, 40, 30), (240, 170, 20), (40, 220, 90))):
        cx, cy = camera.project((x, top - 0.18 - 0.28 * lamp, z))
        lamp_color = color if lamp == lit else shade(color, 0.25)
        canvas.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), LIGHT, lamp_color, depth)


def draw_sign(canvas: Canvas, pole: Pole) -> None:
    """A sign plate at the top of the pole."""
    camera = canvas.camera
    depth = camera.depth(pole.z)
    cx, cy = camera.project((pole.x, pole.top - 0.35, pole.z))
    s = camera.focal * 0.38 / depth
    shapes = {
        "circle": None,
        "triangle": [(cx, cy - s), (cx + s, cy + s * 0.8), (cx - s, cy + s * 0.8)],
        "square": [(cx - s, cy - s * 0.8), (cx + s, cy - s * 0.8), (cx + s, cy + s * 0.8), (cx - s, cy + s * 0.8)],
        "diamond": [(cx, cy - s), (cx + s, cy), (cx, cy + s), (cx - s, cy)],
    }
    outline = shapes[pole.sign]
    if outline is None:
        canvas.ellipse((cx - s, cy - s, cx + s, cy + s), SIGN, pole.sign_color, depth)
        canvas.ellipse((cx - s * 0.65, cy - s * 0.65, cx + s * 0.65, cy + s * 0.65), IMAGE_ONLY, (240, 240, 240), depth)
    else:
        canvas.flat(outline, SIGN, pole.sign_color, depth)


def draw_tree(canvas: Canvas, tree: Tree) -> None:
    """A trunk and an irregular crown."""
    camera = canvas.camera
    canvas.polygon(
        [
            (tree.x - 0.15, 0, tree.z),
            (tree.x + 0.15, 0, tree.z),
            (tree.x + 0.12, tree.trunk + 0.5, tree.z),
            (tree.x - 0.12, tree.trunk + 0.5, tree.z),
        ],
        VEGETATION,
        (80, 60, 40),
    )
    depth = camera.depth(tree.z)
    cx, cy = camera.project((tree.x, tree.trunk + tree.crown, tree.z))
    radius = camera.focal * tree.crown / depth
    rng = np.random.default_rng(tree.detail)
    angles = np.linspace(0.0, 2 * math.pi, 18, endpoint=False)
    radii = radius * (0.8 + 0.35 * rng.random(18))
    outline = [(cx + r * math.cos(a), cy + r * math.sin(a) * 0.9) for a, r in zip(angles, radii, strict=True)]
    canvas.flat(outline, VEGETATION, tree.color, depth)


def draw_person(canvas: Canvas, person: Person) -> None:
    """A pedestrian, or a rider on a bicycle or motorcycle."""
    camera = canvas.camera
    depth = camera.depth(person.z)
    scale = camera.focal / depth
    fx, fy = camera.project((person.x, 0.0, person.z))
    label = RIDER if person.cycle else PERSON
    h = person.height * scale
    if person.cycle:
        draw_cycle(canvas, person, fx, fy, scale, depth)
        fy -= 0.45 * h
        h *= 0.75
    half = 0.12 * h
    if not person.cycle:
        canvas.flat(
            [
                (fx - half, fy - 0.48 * h),
                (fx - 0.2 * half, fy - 0.48 * h),
                (fx - 0.5 * half, fy),
                (fx - 1.1 * half, fy),
            ],
            label,
            person.pants,
            depth,
        )
        canvas.flat(
            [
                (fx + 0.2 * half, fy - 0.48 * h),
                (fx + half, fy - 0.48 * h),
                (fx + 1.1 * half, fy),
                (fx + 0.5 * half, fy),
            ],
            label,
            person.pants,
            depth,
        )
    canvas.flat(
        [
            (fx - 1.3 * half, fy - 0.84 * h),
            (fx + 1.3 * half, fy - 0.84 * h),
            (fx + 1.1 * half, fy - 0.46 * h),
            (fx - 1.1 * half, fy - 0.46 * h),
        ],
        label,
        person.shirt,
        depth,
    )
    head = 0.065 * h
    canvas.ellipse((fx - head, fy - 0.84 * h - 2 * head, fx + head, fy - 0.84 * h), label, person.skin, depth)


def draw_cycle(canvas: Canvas, person: Person, fx: float, fy: float, scale: float, depth: float) -> None:
    """Wheels and frame, round when seen from the side, narrow when seen from behind."""
    label = MOTORCYCLE if person.cycle == "motorcycle" else BICYCLE
    color = (40, 40, 45) if person.cycle == "motorcycle" else (150, 30, 30)
    r = 0.34 * scale
    width = max(1, round(0.06 * scale))
    if person.side_view:
        for wx in (fx - 0.55 * scale, fx + 0.55 * scale):
            canvas.line(circle_points(wx, fy - r, r), width, label, (25, 25, 25), depth)
        canvas.line(
            [(fx - 0.55 * scale, fy - r), (fx, fy - 2.1 * r), (fx + 0.55 * scale, fy - r)], width, label, color, depth
        )
        if person.cycle == "motorcycle":
            canvas.flat(
                [
                    (fx - 0.4 * scale, fy - 1.2 * r),
                    (fx + 0.4 * scale, fy - 1.2 * r),
                    (fx + 0.3 * scale, fy - 2.4 * r),
                    (fx - 0.3 * scale, fy - 2.4 * r),
                ],
                label,
                color,
                depth,
            )
    else:
        half = (0.35 if person.cycle == "motorcycle" else 0.12) * scale
        canvas.flat(
            [(fx - half, fy), (fx + half, fy), (fx + half, fy - 2.2 * r), (fx - half, fy - 2.2 * r)],
            label,
            color,
            depth,
        )
        canvas.flat(
            [
                (fx - 0.3 * scale, fy - 2.3 * r),
                (fx + 0.3 * scale, fy - 2.3 * r),
                (fx + 0.3 * scale, fy - 2.1 * r),
                (fx - 0.3 * scale, fy - 2.1 * r),
            ],
            label,
            (30, 30, 30),
            depth,
        )


def circle_points(cx: float, cy: float, r: float, count: int = 16) -> list[tuple[float, float]]:
    """A closed polyline around a circle."""
    angles = np.linspace(0.0, 2 * math.pi, count + 1)
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angles]
