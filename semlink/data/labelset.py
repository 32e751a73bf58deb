"""Label sets: the classes a frame source annotates, their colours and the ignore index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = 255


@dataclass(frozen=True)
class LabelSet:
    """The classes of a frame source.

    :param name: short name (``cityscapes``, ``camvid``).
    :param classes: class names; index ``i`` in a label map means ``classes[i]``.
    :param palette: one RGB colour per class, for contact sheets and plots.
    :param ignore_index: label value excluded from training and scoring.
    """

    name: str
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    ignore_index: int = IGNORE_INDEX

    @property
    def num_classes(self) -> int:
        """Number of scored classes (the ignore index is not one of them)."""
        return len(self.classes)

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """Colour a label map.

        :param labels: ``[H, W]`` uint8 class indices.
        :return: ``[H, W, 3]`` uint8 image; ignored and unknown pixels are black.
        """
        lut = np.zeros((256, 3), dtype=np.uint8)
        lut[: self.num_classes] = np.asarray(self.palette, dtype=np.uint8)
        return lut[labels]


# fmt: off
CITYSCAPES = LabelSet(
    name="cityscapes",
    classes=(
        "road", "sidewalk", "building", "wall", "fence", "pole", "traffic_light",
        "traffic_sign", "vegetation", "terrain", "sky", "person", "rider", "car",
        "truck", "bus", "train", "motorcycle", "bicycle",
    ),
    palette=(
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
        (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
        (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
        (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ),
)

# CamVid class index -> Cityscapes train ID (the table in the CamVid README).
CAMVID_TO_CITYSCAPES: tuple[int, ...] = (10, 2, 5, 0, 1, 8, 7, 4, 13, 11, 12)

# CamVid's classes drawn in the Cityscapes colours of the classes they map to, so that sheets
# and plots of both datasets read the same.
CAMVID = LabelSet(
    name="camvid",
    classes=(
        "sky", "building", "pole", "road", "pavement", "tree", "sign_symbol", "fence",
        "car", "pedestrian", "bicyclist",
    ),
    palette=tuple(CITYSCAPES.palette[i] for i in CAMVID_TO_CITYSCAPES),
)
# fmt: on


def camvid_to_cityscapes(labels: np.ndarray) -> np.ndarray:
    """Map a CamVid label map to Cityscapes train IDs (unknown values become ignore).

    :param labels: ``[H, W]`` uint8 CamVid class indices.
    :return: ``[H, W]`` uint8 Cityscapes train IDs.
    """
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    lut[: len(CAMVID_TO_CITYSCAPES)] = CAMVID_TO_CITYSCAPES
    return lut[labels]


def cityscapes_to_camvid(labels: np.ndarray) -> np.ndarray:
    """Map Cityscapes train IDs to CamVid classes; classes CamVid lacks become ignore.

    Traffic lights map to CamVid's ``sign_symbol`` (CamVid labels both as one class).

    :param labels: ``[H, W]`` uint8 Cityscapes train IDs.
    :return: ``[H, W]`` uint8 CamVid class indices.
    """
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for camvid_index, train_id in enumerate(CAMVID_TO_CITYSCAPES):
        lut[train_id] = camvid_index
    lut[6] = CAMVID.classes.index("sign_symbol")
    return lut[labels]
