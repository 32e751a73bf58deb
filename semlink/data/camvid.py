"""CamVid in the SegNet layout (``train/``, ``trainannot/``, ``val/``, ``valannot/``, ...)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from semlink.data.frame import DataError, Frame, FrameSource
from semlink.data.imageio import read_labels, read_rgb, resize_image, resize_labels
from semlink.data.labelset import CAMVID, IGNORE_INDEX
from semlink.data.sources import DATASETS

CAMVID_ENV = "SEMLINK_CAMVID"
CAMVID_UNLABELLED = 11


def camvid_candidates() -> list[Path]:
    """Where CamVid is looked for, in order: ``$SEMLINK_CAMVID`` if set; else
    ``../shared/data/camvid`` beside the repository this package runs from (an editable
    install), then from the working folder."""
    configured = os.environ.get(CAMVID_ENV)
    if configured:
        return [Path(configured)]
    beside_repository = Path(__file__).resolve().parents[3] / "shared" / "data" / "camvid"
    return list(dict.fromkeys([beside_repository, Path("..").resolve() / "shared" / "data" / "camvid"]))


def default_camvid_root() -> Path:
    """The first of :func:`camvid_candidates` that exists, else the first (for the error message)."""
    candidates = camvid_candidates()
    return next((path for path in candidates if path.is_dir()), candidates[0])


@DATASETS.register("camvid")
class CamVid(FrameSource):
    """CamVid's 11 classes at 360×480; its label 11 (unlabelled) becomes 255.

    :param split: ``train``, ``val`` or ``test`` (a folder ``<split>/`` and ``<split>annot/``).
    :param root: dataset folder; default :func:`default_camvid_root`.
    :param size: ``(H, W)`` to resize to (area for images, nearest for labels); None keeps 360×480.
    """

    label_set = CAMVID

    def __init__(
        self,
        split: str = "val",
        root: str | Path | None = None,
        size: tuple[int, int] | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else default_camvid_root()
        self.size = size
        image_dir = self.root / split
        label_dir = self.root / f"{split}annot"
        if not image_dir.is_dir() or not label_dir.is_dir():
            tried = "" if root is not None else f" (looked in {', '.join(map(str, camvid_candidates()))})"
            raise DataError(
                f"CamVid split {split!r} not found: expected {image_dir} and {label_dir}{tried}; "
                f"set {CAMVID_ENV} or data.root to the SegNet-layout CamVid folder"
            )
        self.images = sorted(image_dir.glob("*.png"))
        if not self.images:
            raise DataError(f"CamVid split {split!r} has no PNG images in {image_dir}")
        self.labels = [label_dir / p.name for p in self.images]
        missing = [p.name for p in self.labels if not p.exists()]
        if missing:
            raise DataError(f"CamVid {label_dir} lacks label maps for {len(missing)} images, e.g. {missing[0]}")

    def __len__(self) -> int:
        return len(self.images)

    def frame(self, index: int) -> Frame:
        """Load frame ``index``; unlabelled pixels become 255."""
        image = read_rgb(self.images[index])
        labels = read_labels(self.labels[index]).copy()
        labels[labels >= CAMVID_UNLABELLED] = IGNORE_INDEX
        if self.size is not None:
            image = resize_image(image, self.size)
            labels = resize_labels(labels, self.size)
        return Frame(index=index, image=image, labels=np.ascontiguousarray(labels), time_s=float(index))
