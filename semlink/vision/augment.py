"""Training crops with scale, flip and colour augmentation, drawn from frames held in memory."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import IterableDataset

from semlink.data.labelset import IGNORE_INDEX


class CropStream(IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    """An endless stream of augmented ``(image, labels)`` training crops.

    Each crop: random scale, random crop of ``crop`` (padded with ignore where the scaled
    frame is smaller), horizontal flip, brightness/contrast/saturation jitter and noise.

    :param images: ``[N, H, W, 3]`` uint8 frames.
    :param labels: ``[N, H, W]`` uint8 label maps.
    :param crop: ``(h, w)`` of the crops.
    :param scale: range of the random scale factor.
    :param seed: seed of the augmentation draws.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        crop: tuple[int, int],
        scale: tuple[float, float] = (0.75, 1.5),
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(np.ascontiguousarray(labels))
        self.crop = crop
        self.scale = scale
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            index = int(torch.randint(len(self.images), (1,), generator=generator))
            yield self._augment(index, generator)

    def _augment(self, index: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].permute(2, 0, 1).float()[None] / 255.0
        labels = self.labels[index][None, None].float()
        low, high = self.scale
        factor = low + (high - low) * float(torch.rand((), generator=g))
        size = (round(image.shape[-2] * factor), round(image.shape[-1] * factor))
        image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        labels = F.interpolate(labels, size=size, mode="nearest")
        image, labels = self._random_crop(image[0], labels[0, 0], g)
        if float(torch.rand((), generator=g)) < 0.5:
            image, labels = image.flip(-1), labels.flip(-1)
        return self._jitter(image, g), labels.long()

    def _random_crop(
        self, image: torch.Tensor, labels: torch.Tensor, g: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ch, cw = self.crop
        pad_h, pad_w = max(0, ch - image.shape[-2]), max(0, cw - image.shape[-1])
        if pad_h or pad_w:
            image = F.pad(image, (0, pad_w, 0, pad_h))
            labels = F.pad(labels, (0, pad_w, 0, pad_h), value=IGNORE_INDEX)
        top = int(torch.randint(image.shape[-2] - ch + 1, (1,), generator=g))
        left = int(torch.randint(image.shape[-1] - cw + 1, (1,), generator=g))
        return image[:, top : top + ch, left : left + cw], labels[top : top + ch, left : left + cw]

    @staticmethod
    def _jitter(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        brightness, contrast, saturation = (0.7 + 0.6 * torch.rand(3, generator=g)).tolist()
        image = image * brightness
        mean = image.mean()
        image = (image - mean) * contrast + mean
        grey = image.mean(0, keepdim=True)
        image = (image - grey) * saturation + grey
        noise = 0.02 * float(torch.rand((), generator=g))
        image = image + noise * torch.randn(image.shape, generator=g)
        return image.clamp(0.0, 1.0)
