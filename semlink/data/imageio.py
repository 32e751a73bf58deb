"""Reading, writing and resizing images and label maps (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from semlink.data.frame import DataError


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as ``[H, W, 3]`` uint8 RGB.

    :raises DataError: if the file is missing or not an image.
    """
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read image {path}: {error}") from None


def read_labels(path: Path) -> np.ndarray:
    """Read a single-channel label PNG as ``[H, W]`` uint8.

    :raises DataError: if the file is missing, not an image, or not single-channel.
    """
    try:
        with Image.open(path) as image:
            if image.mode not in ("L", "P", "I", "I;16"):
                raise DataError(f"label map {path} has mode {image.mode}; expected 8-bit indices")
            return np.asarray(image).astype(np.uint8)
    except OSError as error:
        raise DataError(f"cannot read label map {path}: {error}") from None


def write_png(path: Path, array: np.ndarray) -> None:
    """Write ``[H, W]`` or ``[H, W, 3]`` uint8 as PNG, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, optimize=False)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``[H, W, 3]`` uint8 to ``size = (H', W')`` with area averaging (box filter)."""
    if image.shape[:2] == size:
        return image
    resized = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BOX)
    return np.asarray(resized)


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a ``[H, W]`` label map to ``size = (H', W')`` with nearest neighbour."""
    if labels.shape == size:
        return labels
    resized = Image.fromarray(labels).resize((size[1], size[0]), Image.Resampling.NEAREST)
    return np.asarray(resized)
