"""Cityscapes in its standard layout, label IDs mapped to the 19 train IDs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from semlink.data.frame import DataError, Frame, FrameSource
from semlink.data.imageio import read_labels, read_rgb, resize_image, resize_labels, write_png
from semlink.data.labelset import CITYSCAPES, IGNORE_INDEX
from semlink.data.sources import DATASETS

# The official labelId -> trainId table (cityscapesScripts' labels.py); others are ignored.
TRAIN_ID_OF_LABEL_ID = {
    7: 0,
    8: 1,
    11: 2,
    12: 3,
    13: 4,
    17: 5,
    19: 6,
    20: 7,
    21: 8,
    22: 9,
    23: 10,
    24: 11,
    25: 12,
    26: 13,
    27: 14,
    28: 15,
    31: 16,
    32: 17,
    33: 18,
}
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a Cityscapes ``labelIds`` map to train IDs (255 for every unscored label)."""
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label_id, train_id in TRAIN_ID_OF_LABEL_ID.items():
        lut[label_id] = train_id
    return lut[label_ids]


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Map train IDs back to ``labelIds`` (ignore becomes 0, 'unlabeled')."""
    lut = np.zeros(256, dtype=np.uint8)
    for label_id, train_id in TRAIN_ID_OF_LABEL_ID.items():
        lut[train_id] = label_id
    return lut[train_ids]


@DATASETS.register("cityscapes")
class Cityscapes(FrameSource):
    """``leftImg8bit/{split}/{city}/*_leftImg8bit.png`` with ``gtFine/{split}/{city}/*_gtFine_labelIds.png``.

    :param split: ``train``, ``val`` or ``test``.
    :param root: the folder holding ``leftImg8bit/`` and ``gtFine/``.
    :param size: ``(H, W)`` frames are resized to (area for images, nearest for labels).
    """

    label_set = CITYSCAPES

    def __init__(self, split: str = "val", root: str | Path = "cityscapes", size: tuple[int, int] = (256, 512)) -> None:
        self.root, self.size = Path(root), size
        image_dir = self.root / "leftImg8bit" / split
        if not image_dir.is_dir():
            raise DataError(
                f"Cityscapes split {split!r} not found: no folder {image_dir}; "
                "pass the folder holding leftImg8bit/ and gtFine/ as the data root"
            )
        self.images = sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}"))
        if not self.images:
            raise DataError(f"Cityscapes {image_dir} holds no */*{IMAGE_SUFFIX} files")
        self.labels = [self._label_path(p, split) for p in self.images]
        missing = [p for p in self.labels if not p.exists()]
        if missing:
            raise DataError(f"Cityscapes label map {missing[0]} is missing ({len(missing)} in all)")

    def _label_path(self, image: Path, split: str) -> Path:
        stem = image.name[: -len(IMAGE_SUFFIX)]
        return self.root / "gtFine" / split / image.parent.name / f"{stem}{LABEL_SUFFIX}"

    def __len__(self) -> int:
        return len(self.images)

    def frame(self, index: int) -> Frame:
        """Load, map to train IDs and resize frame ``index``."""
        image = resize_image(read_rgb(self.images[index]), self.size)
        labels = resize_labels(label_ids_to_train_ids(read_labels(self.labels[index])), self.size)
        return Frame(index=index, image=image, labels=labels, time_s=float(index))


def write_cityscapes(root: Path, split: str, city: str, frame: Frame) -> Path:
    """Write ``frame`` (train-ID labels) into the Cityscapes layout; returns the image path."""
    stem = f"{city}_{frame.index // 1000:06d}_{frame.index % 1000:06d}"
    image_path = root / "leftImg8bit" / split / city / f"{stem}{IMAGE_SUFFIX}"
    write_png(image_path, frame.image)
    write_png(root / "gtFine" / split / city / f"{stem}{LABEL_SUFFIX}", train_ids_to_label_ids(frame.labels))
    return image_path
