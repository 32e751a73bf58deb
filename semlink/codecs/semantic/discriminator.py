"""A small map-conditioned PatchGAN discriminator for the hinge loss and feature matching."""

from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """``(image [N, 3, H, W], map one-hot [N, K, H, W])`` -> patch logits ``[N, 1, H/8, W/8]``
    and the intermediate features (for feature matching).

    :param cond_channels: channels of the map one-hot.
    :param width: channels of the first layer (doubled per layer).
    """

    def __init__(self, cond_channels: int, width: int = 32) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(3 + cond_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)),
                nn.Sequential(nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)),
                nn.Sequential(nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)),
                nn.Conv2d(4 * width, 1, 3, 1, 1),
            ]
        )

    def forward(self, images: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """See the class docstring."""
        x = torch.cat([images, onehot], 1)
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return x, features[:-1]
