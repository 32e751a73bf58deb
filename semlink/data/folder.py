"""A pair of folders: ``images/`` and ``labels/`` (train-ID PNGs with matching names)."""

from __future__ import annotations

from pathlib import Path

from semlink.data.frame import DataError, Frame, FrameSource
from semlink.data.imageio import read_labels, read_rgb, resize_image, resize_labels
from semlink.data.labelset import CITYSCAPES
from semlink.data.sources import DATASETS

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


@DATASETS.register("folder")
class ImageFolder(FrameSource):
    """``root/images/NAME.ext`` with ``root/labels/NAME.png`` (Cityscapes train IDs, 255 ignore).

    :param split: a subfolder of ``root`` holding ``images/`` and ``labels/``, or ``""``/``all``
        for ``root`` itself.
    :param root: the folder.
    :param size: ``(H, W)`` to resize to; None keeps each file's size.
    """

    label_set = CITYSCAPES

    def __init__(self, split: str = "", root: str | Path = ".", size: tuple[int, int] | None = None) -> None:
        base = Path(root) if split in ("", "all") else Path(root) / split
        if not (base / "images").is_dir() and (Path(root) / "images").is_dir():
            base = Path(root)
        image_dir, label_dir = base / "images", base / "labels"
        if not image_dir.is_dir() or not label_dir.is_dir():
            raise DataError(f"image folder {base} needs images/ and labels/ subfolders")
        self.size = size
        self.images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self.images:
            raise DataError(f"{image_dir} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        self.labels = [label_dir / f"{p.stem}.png" for p in self.images]
        missing = [p for p in self.labels if not p.exists()]
        if missing:
            raise DataError(f"label map {missing[0]} is missing ({len(missing)} in all); names must match")

    def __len__(self) -> int:
        return len(self.images)

    def frame(self, index: int) -> Frame:
        """Load frame ``index``, resized if a size was given."""
        image, labels = read_rgb(self.images[index]), read_labels(self.labels[index])
        if image.shape[:2] != labels.shape:
            raise DataError(f"{self.images[index].name}: image {image.shape[:2]} and labels {labels.shape} differ")
        if self.size is not None:
            image, labels = resize_image(image, self.size), resize_labels(labels, self.size)
        return Frame(index=index, image=image, labels=labels, time_s=float(index))
