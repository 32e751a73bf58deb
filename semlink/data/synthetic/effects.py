"""Sky, surface texture, light, fog, rain and camera effects (numpy, vectorised per frame)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from semlink.data.synthetic.world import (
    BUILDING,
    FENCE,
    ROAD,
    SIDEWALK,
    TERRAIN,
    VEGETATION,
    WALL,
    Look,
)

Rng = np.random.Generator

# Texture strength per class (fraction of brightness); vegetation and grass are mottled.
TEXTURE = np.zeros(256, dtype=np.float32)
TEXTURE[[ROAD, SIDEWALK]] = 0.07
TEXTURE[[BUILDING, WALL, FENCE]] = 0.06
TEXTURE[VEGETATION] = 0.35
TEXTURE[TERRAIN] = 0.22
TEXTURE[11:19] = 0.03
GROUND = (ROAD, SIDEWALK, TERRAIN)


def smooth_noise(rng: Rng, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Noise in [-1, 1] with features about ``cell`` pixels wide (bilinear upsampling)."""
    small = rng.uniform(-1.0, 1.0, (max(2, shape[0] // cell + 2), max(2, shape[1] // cell + 2)))
    image = Image.fromarray(small.astype(np.float32), mode="F").resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(image)


def sky(rng: Rng, look: Look, shape: tuple[int, int], horizon: float) -> np.ndarray:
    """A vertical gradient from the zenith colour to the horizon colour, with clouds."""
    height, width = shape
    t = np.clip(np.arange(height, dtype=np.float32) / max(horizon, 1.0), 0.0, 1.0)[:, None, None]
    top, bottom = np.asarray(look.sky_top, np.float32), np.asarray(look.sky_horizon, np.float32)
    image = np.broadcast_to(top + (bottom - top) * t, (height, width, 3)).copy()
    if look.clouds > 0:
        cover = smooth_noise(rng, shape, 48) * 0.7 + smooth_noise(rng, shape, 12) * 0.3
        alpha = np.clip((cover - (1.0 - 1.6 * look.clouds)) * 2.0, 0.0, 0.85)[..., None]
        image = image * (1.0 - alpha) + 235.0 * alpha
    return np.clip(image, 0, 255).astype(np.uint8)


def texture(rng: Rng, image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Surface texture: fine grain everywhere, mottling on vegetation and grass."""
    shape = labels.shape
    fine = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    coarse = smooth_noise(rng, shape, 6)
    strength = TEXTURE[labels]
    mottled = np.isin(labels, (VEGETATION, TERRAIN))
    pattern = np.where(mottled, 0.4 * fine + 0.6 * coarse, fine)
    return image.astype(np.float32) * (1.0 + strength * pattern)[..., None]


def ground_depth(depth: np.ndarray, labels: np.ndarray, horizon: float, focal: float, height: float) -> np.ndarray:
    """Depth of road, sidewalk and terrain pixels from their image row (flat ground)."""
    rows = np.arange(labels.shape[0], dtype=np.float32)[:, None] + 0.5
    row_depth = np.where(rows > horizon, focal * height / np.maximum(rows - horizon, 1e-3), 1e4)
    return np.where(np.isin(labels, GROUND), row_depth, depth)


def light_and_weather(rng: Rng, image: np.ndarray, depth: np.ndarray, look: Look) -> np.ndarray:
    """Time-of-day gain and tint, fog by depth, rain streaks and darkening."""
    image = image * (look.brightness * np.asarray(look.tint, np.float32))
    if np.isfinite(look.fog_distance):
        keep = np.exp(-depth / look.fog_distance)[..., None]
        image = image * keep + np.asarray(look.fog_color, np.float32) * look.brightness * (1.0 - keep)
    if look.rain > 0:
        image = image * 0.85 + 20.0
        image = rain_streaks(rng, image, look.rain)
    return image


def rain_streaks(rng: Rng, image: np.ndarray, density: float) -> np.ndarray:
    """Thin bright slanted streaks blended over the image."""
    height, width = image.shape[:2]
    layer = Image.new("L", (width, height), 0)
    from PIL import ImageDraw  # local: only rainy frames need it

    draw = ImageDraw.Draw(layer)
    count = int(density * width * height / 900)
    xs, ys = rng.uniform(0, width, count), rng.uniform(0, height, count)
    lengths = rng.uniform(6, 18, count)
    for x, y, length in zip(xs, ys, lengths, strict=True):
        draw.line([(x, y), (x + 0.25 * length, y + length)], fill=110, width=1)
    alpha = np.asarray(layer, np.float32)[..., None] / 255.0
    return image * (1.0 - alpha) + 220.0 * alpha


def camera(rng: Rng, image: np.ndarray, look: Look) -> np.ndarray:
    """Optical blur and sensor noise; returns uint8."""
    out = np.clip(image, 0, 255).astype(np.uint8)
    if look.blur > 0.05:
        out = np.asarray(Image.fromarray(out).filter(ImageFilter.GaussianBlur(look.blur)))
    noisy = out.astype(np.float32) + rng.normal(0.0, look.noise, out.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
