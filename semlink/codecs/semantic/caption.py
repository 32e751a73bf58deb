"""Captions: a short human-readable description of a frame, written from the frame and its map.

For each class of the codec's label set present in the map, the caption names the dominant
colour of its pixels from a fixed vocabulary (:data:`COLOURS`, fixed sRGB values; greys and
light/dark variants carry the brightness); for countable classes (:data:`COUNTABLE`) it names
the colour of each instance, largest first, as runs with counts, e.g.
``"sky pale blue; road dark grey; car red 2, white 1"`` (the two largest cars red, the third white).

Instances are the connected components of the class in the map sampled every 4th pixel
(``labels[::4, ::4]``): the receiver's decoded map at ``map_scale`` 1, 2 or 4 samples to the
same grid, so both ends find the same instances in the same order. The parser is tolerant:
unknown words and entries are skipped, and a countable class whose instances cannot all be read
is dropped whole (its colours would land on the wrong instances).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from semlink.data.labelset import LabelSet

# fmt: off
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (22, 22, 24), "charcoal": (45, 45, 48), "dark grey": (70, 70, 72), "grey": (105, 105, 108),
    "mid grey": (135, 135, 138), "light grey": (165, 165, 168), "silver": (195, 195, 198), "white": (232, 232, 235),
    "slate": (80, 88, 100), "blue grey": (115, 128, 145), "pale grey": (150, 160, 175), "taupe": (105, 95, 85),
    "dark brown": (60, 45, 35), "brown": (110, 80, 55), "tan": (170, 140, 105), "khaki": (160, 155, 120),
    "beige": (200, 185, 160), "cream": (230, 222, 200), "dark olive": (60, 65, 40), "olive": (100, 105, 60),
    "sage": (130, 140, 110), "dark green": (35, 60, 30), "green": (60, 120, 50), "light green": (140, 180, 110),
    "teal": (30, 110, 110), "cyan": (80, 200, 210), "navy": (25, 35, 80), "blue": (40, 80, 170),
    "steel blue": (80, 120, 160), "sky blue": (130, 180, 230), "light blue": (165, 195, 225),
    "pale blue": (205, 218, 232), "purple": (100, 50, 120), "pink": (225, 150, 170), "dark red": (110, 25, 30),
    "red": (190, 35, 35), "orange": (225, 120, 30), "yellow": (230, 200, 40),
}
# fmt: on
"""The colour vocabulary: name -> sRGB. Fixed: both ends read names through this table."""

COUNTABLE = frozenset(
    {"car", "pedestrian", "bicyclist", "person", "rider", "truck", "bus", "train", "motorcycle", "bicycle"}
)
"""Classes described per instance (connected component), the others as one region."""

INSTANCE_GRID = 4
"""Instances are components of the map sampled every this many pixels (see the module docstring)."""
MIN_INSTANCE_CELLS = 16
"""Smallest component counted as an instance, in cells of the instance grid (64 frame pixels)."""
MAX_INSTANCES = 3
"""Instances named per class, the largest first."""
MIN_REGION_SHARE = 0.005
"""Smallest share of the frame a class must cover to be named."""
MAX_BYTES = 64
"""The caption's text is at most this many bytes (classes that do not fit are left out)."""
MAX_COUNT = 64
"""A count above this is damage: the entry is dropped."""


@dataclass(frozen=True)
class Caption:
    """What a caption says, by class index of the label set.

    :param regions: class -> colour name, for classes described as one region.
    :param instances: countable class -> colour name of each instance, largest first.
    """

    regions: dict[int, str] = field(default_factory=dict)
    instances: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def text(self, label_set: LabelSet) -> str:
        """The caption as a line of text: classes in label-set order, ``"; "`` between them."""
        entries = []
        for number, name in enumerate(label_set.classes):
            if number in self.regions:
                entries.append(f"{name} {self.regions[number]}")
            elif number in self.instances:
                runs = ", ".join(f"{colour} {count}" for colour, count in runs_of(self.instances[number]))
                entries.append(f"{name} {runs}")
        return "; ".join(entries)

    def __bool__(self) -> bool:
        """True if the caption names anything."""
        return bool(self.regions or self.instances)


def runs_of(names: tuple[str, ...]) -> Iterator[tuple[str, int]]:
    """``(name, count)`` for each run of equal consecutive names."""
    start = 0
    for end in range(1, len(names) + 1):
        if end == len(names) or names[end] != names[start]:
            yield names[start], end - start
            start = end


# -- colours -----------------------------------------------------------------------------------


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 255] -> linear RGB in [0, 1] (the sRGB transfer curve)."""
    c = np.asarray(srgb, dtype=np.float64) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def srgb_to_lab(srgb: np.ndarray) -> np.ndarray:
    """sRGB ``[..., 3]`` in [0, 255] -> CIE L*a*b* (D65)."""
    matrix = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = srgb_to_linear(srgb) @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


NAMES = tuple(COLOURS)
SRGB = np.array([COLOURS[name] for name in NAMES], dtype=np.float64)
LAB = srgb_to_lab(SRGB)


def colour_name(mean_srgb: np.ndarray) -> str:
    """The vocabulary's colour nearest to ``mean_srgb`` (``[3]``, 0–255) in L*a*b*."""
    return NAMES[int(np.argmin(((LAB - srgb_to_lab(mean_srgb)) ** 2).sum(-1)))]


# -- regions -----------------------------------------------------------------------------------


def instance_masks(labels: np.ndarray, number: int) -> list[np.ndarray]:
    """The instances of class ``number`` in ``labels [H, W]``: ``[H, W]`` bool masks, largest first
    (ties in raster order), at most :data:`MAX_INSTANCES`, each at least :data:`MIN_INSTANCE_CELLS`.

    A mask is the class's pixels whose cell of the instance grid belongs to the component.
    """
    grid = labels[::INSTANCE_GRID, ::INSTANCE_GRID] == number
    components, count = ndimage.label(grid)
    if not count:
        return []
    sizes = np.bincount(components.ravel(), minlength=count + 1)[1:]
    order = [int(k) for k in np.argsort(-sizes, kind="stable") if sizes[k] >= MIN_INSTANCE_CELLS]
    h, w = labels.shape
    cells = components.repeat(INSTANCE_GRID, 0).repeat(INSTANCE_GRID, 1)[:h, :w]
    of_class = labels == number
    return [of_class & (cells == k + 1) for k in order[:MAX_INSTANCES]]


def write_caption(image: np.ndarray, labels: np.ndarray, label_set: LabelSet) -> Caption:
    """The caption of ``image [H, W, 3]`` uint8 with its map ``labels [H, W]``: the classes that
    cover at least :data:`MIN_REGION_SHARE` of the frame, the largest first, as many as fit in
    :data:`MAX_BYTES` of text."""
    areas = np.bincount(labels.ravel(), minlength=256)[: label_set.num_classes]
    caption = Caption()
    for number in np.argsort(-areas, kind="stable"):
        if areas[number] < MIN_REGION_SHARE * labels.size:
            break
        more = with_class(caption, image, labels, int(number), label_set)
        if len(more.text(label_set).encode("utf-8")) <= MAX_BYTES:
            caption = more
    return caption


def with_class(caption: Caption, image: np.ndarray, labels: np.ndarray, number: int, label_set: LabelSet) -> Caption:
    """``caption`` with class ``number`` described too (its region's colour, or each instance's)."""
    if label_set.classes[number] not in COUNTABLE:
        colour = colour_name(image[labels == number].mean(0))
        return Caption({**caption.regions, number: colour}, caption.instances)
    named = tuple(colour_name(image[mask].mean(0)) for mask in instance_masks(labels, number))
    return Caption(caption.regions, {**caption.instances, number: named} if named else caption.instances)


# -- parsing -----------------------------------------------------------------------------------


def parse_caption(text: str, label_set: LabelSet) -> Caption:
    """The caption a line of text says; what cannot be read is left out (never an error)."""
    classes = {name: number for number, name in enumerate(label_set.classes)}
    regions: dict[int, str] = {}
    instances: dict[int, tuple[str, ...]] = {}
    for entry in text.split(";"):
        words = entry.split()
        if not words or words[0] not in classes:
            continue
        number, rest = classes[words[0]], " ".join(words[1:])
        if words[0] in COUNTABLE:
            named = parse_runs(rest)
            if named:
                instances[number] = named
        elif rest in COLOURS:
            regions[number] = rest
    return Caption(regions, instances)


def parse_runs(text: str) -> tuple[str, ...] | None:
    """``"red 2, white 1"`` -> ``("red", "red", "white")``; None if any run cannot be read."""
    named: list[str] = []
    for run in text.split(","):
        colour, _, count = run.strip().rpartition(" ")
        if colour not in COLOURS or not (count.isascii() and count.isdigit()) or not 0 < int(count) <= MAX_COUNT:
            return None
        named.extend([colour] * int(count))
    return tuple(named) if 0 < len(named) <= MAX_INSTANCES else None


def caption_bytes(caption: Caption, label_set: LabelSet) -> bytes:
    """The caption's chunk: its text in UTF-8."""
    return caption.text(label_set).encode("utf-8")


def read_caption(chunk: bytes | None, label_set: LabelSet) -> Caption | None:
    """The caption of a chunk, or None if it was lost or says nothing readable."""
    if chunk is None:
        return None
    caption = parse_caption(chunk.decode("utf-8", errors="replace"), label_set)
    return caption or None
