"""A pinhole camera over a flat road and a canvas that paints image, labels and depth at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

Point3 = tuple[float, float, float]
Color = tuple[int, int, int]


@dataclass(frozen=True)
class Camera:
    """A forward-looking camera ``height`` metres above a flat road.

    World axes: X to the right, Y up, Z forward along the road. A point projects to
    ``x = cx + f·X/z``, ``y = horizon + f·(height − Y)/z`` with ``z = Z − position``.

    :param width: image width in pixels.
    :param height_px: image height in pixels.
    :param focal: focal length in pixels.
    :param horizon: image row of the horizon.
    :param height: camera height in metres.
    :param position: camera Z in metres (moves forward through a drive).
    :param near: nearest depth drawn, in metres.
    """

    width: int
    height_px: int
    focal: float
    horizon: float
    height: float = 1.3
    position: float = 0.0
    near: float = 1.5

    def project(self, point: Point3) -> tuple[float, float]:
        """Image coordinates of a world point in front of the near plane."""
        x, y, z = point
        depth = z - self.position
        return (self.width / 2 + self.focal * x / depth, self.horizon + self.focal * (self.height - y) / depth)

    def depth(self, z: float) -> float:
        """Depth of world Z in front of the camera."""
        return z - self.position

    def ground_row(self, z: float) -> float:
        """Image row where the road surface at world Z appears."""
        return self.horizon + self.focal * self.height / self.depth(z)


class Canvas:
    """Paints polygons into an RGB image, a label map and a depth map together.

    :param camera: the camera whose image is painted.
    :param sky_label: label of untouched pixels.
    :param background: ``[H, W, 3]`` uint8 image of the sky painted under everything.
    """

    def __init__(self, camera: Camera, sky_label: int, background: np.ndarray) -> None:
        size = (camera.width, camera.height_px)
        self.camera = camera
        self.image = Image.fromarray(background)
        self.labels = Image.new("L", size, sky_label)
        self.depth = Image.new("F", size, 1e4)
        self._draw_image = ImageDraw.Draw(self.image)
        self._draw_labels = ImageDraw.Draw(self.labels)
        self._draw_depth = ImageDraw.Draw(self.depth)

    def polygon(self, points: Sequence[Point3], label: int, color: Color) -> None:
        """Paint a planar world polygon (all points clipped to the near plane)."""
        clipped = clip_near(points, self.camera.position + self.camera.near)
        if len(clipped) < 3:
            return
        xy = [self.camera.project(p) for p in clipped]
        depth = min(p[2] for p in clipped) - self.camera.position
        self.flat(xy, label, color, depth)

    def flat(self, xy: Sequence[tuple[float, float]], label: int, color: Color, depth: float) -> None:
        """Paint an image-space polygon with one label, colour and depth."""
        if label >= 0:
            self._draw_labels.polygon(xy, fill=label)
            self._draw_depth.polygon(xy, fill=depth)
        self._draw_image.polygon(xy, fill=color)

    def ellipse(self, box: tuple[float, float, float, float], label: int, color: Color, depth: float) -> None:
        """Paint an image-space ellipse inside ``box = (x0, y0, x1, y1)``."""
        if box[2] - box[0] < 0.5 or box[3] - box[1] < 0.5:
            return
        if label >= 0:
            self._draw_labels.ellipse(box, fill=label)
            self._draw_depth.ellipse(box, fill=depth)
        self._draw_image.ellipse(box, fill=color)

    def line(self, xy: Sequence[tuple[float, float]], width: int, label: int, color: Color, depth: float) -> None:
        """Paint an image-space polyline of ``width`` pixels."""
        if label >= 0:
            self._draw_labels.line(xy, fill=label, width=width)
            self._draw_depth.line(xy, fill=depth, width=width)
        self._draw_image.line(xy, fill=color, width=width)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(image [H, W, 3] uint8, labels [H, W] uint8, depth [H, W] float32)``."""
        return np.asarray(self.image).copy(), np.asarray(self.labels).copy(), np.asarray(self.depth).copy()


def clip_near(points: Sequence[Point3], z_min: float) -> list[Point3]:
    """Clip a polygon to ``Z >= z_min`` (Sutherland–Hodgman against one plane)."""
    out: list[Point3] = []
    count = len(points)
    for i in range(count):
        current, following = points[i], points[(i + 1) % count]
        inside_now, inside_next = current[2] >= z_min, following[2] >= z_min
        if inside_now:
            out.append(current)
        if inside_now != inside_next:
            t = (z_min - current[2]) / (following[2] - current[2])
            x, y, z = (c + t * (n - c) for c, n in zip(current, following, strict=True))
            out.append((x, y, z))
    return out
