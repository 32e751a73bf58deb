"""A compact segmentation network for CPU inference, written here.

Why by hand: torchvision (and so every model zoo built on it) does not import beside this
project's CPU build of torch, and no pretrained weights can be fetched. The design follows
the fast real-time segmenters (a stride-4 stem, residual stages down to 1/16, a pooled global
context branch, an FPN-like decoder back to 1/4), sized so a 360×480 frame runs at more than
10 frames/s on two CPU cores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """A convolution, batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with a shortcut (projected when the shape changes).

    :param cin: input channels.
    :param cout: output channels.
    :param stride: 2 to halve the resolution.
    :param dilation: dilation of both convolutions (widens context at 1/16).
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, cin, H, W] -> [N, cout, H/stride, W/stride]``."""
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x), inplace=True)


@dataclass(frozen=True)
class SegNetConfig:
    """Shape of :class:`FastSegNet`; stored in checkpoints so they rebuild themselves.

    :param num_classes: output classes (from the label set).
    :param widths: channels at 1/4, 1/8 and 1/16 resolution.
    :param decoder: channels of the decoder.
    """

    num_classes: int
    widths: tuple[int, int, int] = (32, 64, 128)
    decoder: int = 64

    def to_dict(self) -> dict[str, object]:
        """Plain dict for checkpoints."""
        return asdict(self)


class FastSegNet(nn.Module):
    """Image batch -> class logits at full resolution.

    Input ``[N, 3, H, W]`` float in [0, 1] (H and W multiples of 16 are fastest; any size
    works); output ``[N, num_classes, H, W]`` logits.
    """

    mean: torch.Tensor
    std: torch.Tensor
    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, config: SegNetConfig) -> None:
        super().__init__()
        self.config = config
        w4, w8, w16 = config.widths
        dec = config.decoder
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)
        self.stem = nn.Sequential(conv_bn_relu(3, w4 // 2, stride=2), conv_bn_relu(w4 // 2, w4, stride=2))
        self.stage4 = nn.Sequential(ResidualBlock(w4, w4), ResidualBlock(w4, w4))
        self.stage8 = nn.Sequential(ResidualBlock(w4, w8, stride=2), ResidualBlock(w8, w8))
        self.stage16 = nn.Sequential(
            ResidualBlock(w8, w16, stride=2),
            ResidualBlock(w16, w16, dilation=2),
            ResidualBlock(w16, w16, dilation=4),
        )
        self.context = conv_bn_relu(w16, dec, kernel=1)
        self.global_context = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv_bn_relu(w16, dec, kernel=1))
        self.lateral8 = conv_bn_relu(w8, dec, kernel=1)
        self.fuse8 = conv_bn_relu(dec, dec)
        self.lateral4 = conv_bn_relu(w4, dec, kernel=1)
        self.fuse4 = conv_bn_relu(dec, dec)
        self.classifier = nn.Conv2d(dec, config.num_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` in [0, 1] -> ``[N, C, H, W]`` logits."""
        x = (images - self.mean) / self.std
        f4 = self.stage4(self.stem(x))
        f8 = self.stage8(f4)
        f16 = self.stage16(f8)
        y = self.context(f16) + self.global_context(f16)
        y = F.interpolate(y, size=f8.shape[-2:], mode="bilinear", align_corners=False)
        y = self.fuse8(y + self.lateral8(f8))
        y = F.interpolate(y, size=f4.shape[-2:], mode="bilinear", align_corners=False)
        y = self.fuse4(y + self.lateral4(f4))
        logits = self.classifier(y)
        return F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
