"""The world of one drive: road layout, look and the objects along it, drawn from a seed.

Everything is placed in world metres (X right, Y up, Z along the road) so that a camera
moving forward through the same world gives coherent consecutive frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Color = tuple[int, int, int]

# Cityscapes train IDs used by the generator.
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY = range(11)
PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = range(11, 19)


@dataclass(frozen=True)
class Layout:
    """Cross-section of the street.

    :param road_left: X of the road's left edge (negative).
    :param road_right: X of the road's right edge.
    :param lane_width: width of a lane.
    :param sidewalk_left: width of the left sidewalk.
    :param sidewalk_right: width of the right sidewalk.
    """

    road_left: float
    road_right: float
    lane_width: float
    sidewalk_left: float
    sidewalk_right: float

    @property
    def lanes(self) -> int:
        """Number of lanes."""
        return round((self.road_right - self.road_left) / self.lane_width)


@dataclass(frozen=True)
class Look:
    """Light, weather and camera of one drive.

    :param brightness: overall gain (dusk < 1 < bright sun).
    :param tint: per-channel gain (warm evening, cold overcast).
    :param sky_top: sky colour at the top of the image.
    :param sky_horizon: sky colour at the horizon.
    :param clouds: cloud cover in [0, 1].
    :param fog_distance: metres over which contrast falls by e (inf: no fog).
    :param fog_color: colour of the fog.
    :param rain: rain streak density in [0, 1] (0: dry).
    :param noise: sensor noise sigma in grey levels.
    :param blur: Gaussian blur radius in pixels.
    :param road_color: asphalt colour.
    """

    brightness: float
    tint: tuple[float, float, float]
    sky_top: Color
    sky_horizon: Color
    clouds: float
    fog_distance: float
    fog_color: Color
    rain: float
    noise: float
    blur: float
    road_color: Color


@dataclass(frozen=True)
class Box:
    """An axis-aligned block: vehicle, building, wall, fence or hedge.

    :param kind: ``car``, ``truck``, ``bus``, ``train``, ``building``, ``wall``, ``fence``, ``hedge``.
    :param x0: left X. :param x1: right X. :param z0: near Z. :param z1: far Z.
    :param top: height of the top. :param label: train ID. :param color: body colour.
    :param oncoming: vehicles only: facing the camera.
    :param detail: a per-object random number for details (windows, lamps).
    """

    kind: str
    x0: float
    x1: float
    z0: float
    z1: float
    top: float
    label: int
    color: Color
    oncoming: bool = False
    detail: float = 0.0


@dataclass(frozen=True)
class Pole:
    """A pole with an optional sign, traffic light or lamp arm.

    :param x: X. :param z: Z. :param top: height. :param radius: half width.
    :param sign: ``""``, ``circle``, ``triangle``, ``square``, ``diamond``.
    :param sign_color: face colour of the sign.
    :param light: carries a traffic light. :param lit: which lamp is lit (0 red, 1 amber, 2 green).
    :param arm: length of an arm over the road (0: none); a light on an arm hangs at its end.
    """

    x: float
    z: float
    top: float
    radius: float
    sign: str = ""
    sign_color: Color = (255, 255, 255)
    light: bool = False
    lit: int = 0
    arm: float = 0.0


@dataclass(frozen=True)
class Tree:
    """A tree: trunk and an irregular crown.

    :param x: X. :param z: Z. :param trunk: trunk height. :param crown: crown radius.
    :param color: crown colour. :param detail: seed of the crown's outline.
    """

    x: float
    z: float
    trunk: float
    crown: float
    color: Color
    detail: int


@dataclass(frozen=True)
class Person:
    """A pedestrian, or a rider when ``cycle`` is set.

    :param x: X. :param z: Z. :param height: body height.
    :param shirt: torso colour. :param pants: legs colour. :param skin: head colour.
    :param cycle: ``""``, ``bicycle`` or ``motorcycle``.
    :param side_view: the cycle crosses the view (wheels seen round) instead of leaving it.
    """

    x: float
    z: float
    height: float
    shirt: Color
    pants: Color
    skin: Color
    cycle: str = ""
    side_view: bool = False


Thing = Box | Pole | Tree | Person


@dataclass
class World:
    """One drive's street, look and objects.

    :param layout: the street cross-section.
    :param look: light and weather.
    :param backdrop: buildings, hedges and park trees behind the sidewalks (drawn first).
    :param things: everything nearer the road, drawn far to near.
    :param dashes: ``(z0, z1, x)`` lane-marking dashes.
    """

    layout: Layout
    look: Look
    backdrop: list[Thing] = field(default_factory=list)
    things: list[Thing] = field(default_factory=list)
    dashes: list[tuple[float, float, float]] = field(default_factory=list)


def nearest_z(thing: Thing) -> float:
    """Z of the nearest point of a thing (its painter's-order key)."""
    return thing.z0 if isinstance(thing, Box) else thing.z
