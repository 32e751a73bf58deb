"""Training crops with scale, flip, colour, blur and noise augmentation, drawn from frames in memory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import IterableDataset

from semlink.data.labelset import IGNORE_INDEX


class CropStream(IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    """An endless stream of augmented ``(image, labels)`` training crops.

    Each crop: random scale, random crop of ``crop`` (padded with ignore where the scaled
    frame is smaller), horizontal flip, per-channel gain, brightness/contrast/saturation
    jitter, occasional Gaussian blur and noise. With probability ``focus_share`` the crop is
    placed on a pixel of one of the ``focus`` classes (drawn uniformly, then a frame that
    shows it), so thin rare classes are seen far more often than their pixel share.

    The stream's draws come from one generator, created from ``seed`` and kept across
    ``iter`` calls: :meth:`state` and :meth:`restore` carry the data order across a resume.

    :param images: ``[N, H, W, 3]`` uint8 frames.
    :param labels: ``[N, H, W]`` uint8 label maps.
    :param crop: ``(h, w)`` of the crops.
    :param scale: range of the random scale factor.
    :param seed: seed of the augmentation draws.
    :param focus: class indices whose crops are over-sampled.
    :param focus_share: share of crops placed on a focus class.
    :param strong: add channel gains, blur and stronger noise (the generalising recipe).
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        crop: tuple[int, int],
        scale: tuple[float, float] = (0.75, 1.5),
        seed: int = 0,
        focus: Sequence[int] = (),
        focus_share: float = 0.0,
        strong: bool = False,
    ) -> None:
        super().__init__()
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(np.ascontiguousarray(labels))
        self.crop = crop
        self.scale = scale
        self.seed = seed
        self.strong = strong
        self.focus_share = focus_share
        self.focus = {c: np.flatnonzero((labels == c).any(axis=(1, 2))) for c in focus}
        self.focus = {c: frames for c, frames in self.focus.items() if len(frames)}
        self.generator = torch.Generator().manual_seed(seed)

    def state(self) -> torch.Tensor:
        """The generator's state (store it to continue the same data order later)."""
        return self.generator.get_state()

    def restore(self, state: torch.Tensor) -> None:
        """Continue from a state returned by :meth:`state`."""
        self.generator.set_state(state)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.draw()

    def draw(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next augmented crop of the stream."""
        g = self.generator
        target = None
        if self.focus and float(torch.rand((), generator=g)) < self.focus_share:
            classes = sorted(self.focus)
            target = classes[int(torch.randint(len(classes), (1,), generator=g))]
            frames = self.focus[target]
            index = int(frames[int(torch.randint(len(frames), (1,), generator=g))])
        else:
            index = int(torch.randint(len(self.images), (1,), generator=g))
        return self._augment(index, g, target)

    def _augment(self, index: int, g: torch.Generator, target: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].permute(2, 0, 1).float()[None] / 255.0
        labels = self.labels[index][None, None].float()
        low, high = self.scale
        factor = low + (high - low) * float(torch.rand((), generator=g))
        size = (round(image.shape[-2] * factor), round(image.shape[-1] * factor))
        image = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=factor < 1)
        labels = F.interpolate(labels, size=size, mode="nearest")
        image, labels = self._random_crop(image[0], labels[0, 0], g, target)
        if float(torch.rand((), generator=g)) < 0.5:
            image, labels = image.flip(-1), labels.flip(-1)
        return self._photometric(image, g), labels.long()

    def _random_crop(
        self, image: torch.Tensor, labels: torch.Tensor, g: torch.Generator, target: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ch, cw = self.crop
        pad_h, pad_w = max(0, ch - image.shape[-2]), max(0, cw - image.shape[-1])
        if pad_h or pad_w:
            image = F.pad(image, (0, pad_w, 0, pad_h))
            labels = F.pad(labels, (0, pad_w, 0, pad_h), value=IGNORE_INDEX)
        top_range, left_range = image.shape[-2] - ch + 1, image.shape[-1] - cw + 1
        top = int(torch.randint(top_range, (1,), generator=g))
        left = int(torch.randint(left_range, (1,), generator=g))
        if target is not None:
            where = (labels == target).nonzero()
            if len(where):
                y, x = where[int(torch.randint(len(where), (1,), generator=g))].tolist()
                top = _around(y, ch, top_range, g)
                left = _around(x, cw, left_range, g)
        return image[:, top : top + ch, left : left + cw], labels[top : top + ch, left : left + cw]

    def _photometric(self, image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        spread = 0.8 if self.strong else 0.6
        brightness, contrast, saturation = (1.0 - spread / 2 + spread * torch.rand(3, generator=g)).tolist()
        if self.strong:
            image = image * (0.9 + 0.2 * torch.rand(3, 1, 1, generator=g))
        image = image * brightness
        mean = image.mean()
        image = (image - mean) * contrast + mean
        grey = image.mean(0, keepdim=True)
        image = (image - grey) * saturation + grey
        if self.strong and float(torch.rand((), generator=g)) < 0.3:
            image = blur(image, 0.5 + 1.0 * float(torch.rand((), generator=g)))
        noise = (0.04 if self.strong else 0.02) * float(torch.rand((), generator=g))
        image = image + noise * torch.randn(image.shape, generator=g)
        return image.clamp(0.0, 1.0)


def _around(pixel: int, length: int, positions: int, g: torch.Generator) -> int:
    """A crop start drawn uniformly among those of the ``positions`` that keep ``pixel`` inside."""
    low, high = max(pixel - length + 1, 0), min(pixel, positions - 1)
    return low + int(torch.randint(max(1, high - low + 1), (1,), generator=g))


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[3, H, W]`` with standard deviation ``sigma`` pixels."""
    radius = max(1, round(2.5 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.pad(image[:, None], (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x[:, 0]
