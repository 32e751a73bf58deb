"""Building blocks of the semantic codec's networks: residual, SPADE and attention blocks.

Written here because the reference implementations live in codebases we cannot depend on
(torchvision-based or TensorFlow); each block is a few lines.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResBlock(nn.Module):
    """Two 3×3 convolutions with batch norm and SiLU around a shortcut; shape-preserving.

    :param channels: input and output channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.SiLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W] -> [N, C, H, W]``."""
        return F.silu(x + self.body(x))


def down(cin: int, cout: int) -> nn.Sequential:
    """A stride-2 3×3 convolution with batch norm and SiLU: halves the resolution."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.SiLU(inplace=True))


class SelfAttention(nn.Module):
    """Multi-head self-attention over every position of a feature map, with a residual.

    :param channels: feature channels (divisible by ``heads``).
    :param heads: attention heads.
    """

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W] -> [N, C, H, W]``."""
        n, c, h, w = x.shape
        tokens = self.norm(x.flatten(2).transpose(1, 2))
        mixed, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return x + mixed.transpose(1, 2).reshape(n, c, h, w)


class Spade(nn.Module):
    """Spatially-adaptive normalisation (Park et al. 2019): parameter-free batch norm, then a
    per-pixel scale and shift predicted from the conditioning maps (a shared 3×3 convolution,
    then a 1×1 projection, where SPADE uses a second 3×3: most of its cost on a CPU).

    :param channels: channels normalised.
    :param cond_channels: channels of the conditioning input.
    :param hidden: channels of the shared conditioning convolution.
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(cond_channels, hidden, 3, 1, 1), nn.ReLU(inplace=True))
        self.gamma_beta = nn.Conv2d(hidden, 2 * channels, 1)  # 1×1: 9× cheaper than SPADE's 3×3, same reach

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x [N, C, H, W]``, ``cond [N, K, H, W]`` (same H, W) -> ``[N, C, H, W]``."""
        gamma, beta = self.gamma_beta(self.shared(cond)).chunk(2, dim=1)
        return self.norm(x) * (1 + gamma) + beta


class SpadeResBlock(nn.Module):
    """The SPADE residual block: (SPADE, SiLU, 3×3 conv) twice, plus a (projected) shortcut.

    :param cin: input channels.
    :param cout: output channels.
    :param cond_channels: channels of the conditioning input.
    :param hidden: channels inside each SPADE.
    """

    def __init__(self, cin: int, cout: int, cond_channels: int, hidden: int) -> None:
        super().__init__()
        middle = min(cin, cout)
        self.spade1 = Spade(cin, cond_channels, hidden)
        self.conv1 = nn.Conv2d(cin, middle, 3, 1, 1)
        self.spade2 = Spade(middle, cond_channels, hidden)
        self.conv2 = nn.Conv2d(middle, cout, 3, 1, 1)
        self.shortcut: nn.Module = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x [N, cin, H, W]``, ``cond [N, K, H, W]`` -> ``[N, cout, H, W]``."""
        h = self.conv1(F.silu(self.spade1(x, cond)))
        h = self.conv2(F.silu(self.spade2(h, cond)))
        return self.shortcut(x) + h
