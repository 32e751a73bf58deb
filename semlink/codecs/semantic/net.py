"""The semantic codec's networks: image encoder + VQ, token scorer, de-masker and SPADE generator.

One network serves every semantic codec (``sqgan``, ``spic``, ``ssm``, ``gan``): the generator is
conditioned on whatever arrived — the segmentation map (one-hot, with an *unknown* class where it
is missing), the grid of VQ tokens (a learned mask token where a token was not sent or was lost)
and the upsampled low-resolution image (with a presence flag) — and is trained with random
dropout of all three, so every pattern of loss decodes to a sensible image.

Shapes: frames are ``[N, 3, H, W]`` in [0, 1] with H, W multiples of 16; the token grid is
``[N, H/16, W/16]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from semlink.codecs.semantic.layers import ResBlock, SelfAttention, SpadeResBlock, down
from semlink.codecs.semantic.quantizer import EmaQuantizer

GRID = 16
"""Downsampling factor from the frame to the token grid."""


@dataclass(frozen=True)
class CodecNetConfig:
    """Shape of :class:`SemanticCodecNet`; stored in checkpoints so they rebuild themselves.

    :param num_classes: classes of the label set (the map adds one *unknown* channel).
    :param codes: codebook size K.
    :param code_dim: codeword dimension D.
    :param width: channels at the token grid.
    :param gen_widths: generator channels at 1/8, 1/4 and 1/2 resolution.
    :param spade_hidden: channels inside each SPADE.
    :param head: channels of the full-resolution output head.
    """

    num_classes: int
    codes: int = 512
    code_dim: int = 32
    width: int = 128
    gen_widths: tuple[int, int, int] = (96, 64, 24)
    spade_hidden: int = 32
    head: int = 16

    @property
    def cond_channels(self) -> int:
        """Map one-hot with unknown (C + 1), low-res RGB (3) and its presence flag (1)."""
        return self.num_classes + 5

    def to_dict(self) -> dict[str, object]:
        """Plain values for a checkpoint."""
        return asdict(self)


def spatial(x: torch.Tensor) -> tuple[int, int]:
    """``(H, W)`` of a ``[..., H, W]`` tensor."""
    return int(x.shape[-2]), int(x.shape[-1])


def onehot_map(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``[N, H, W]`` int64 (``num_classes`` = unknown) -> ``[N, C + 1, H, W]`` float one-hot."""
    return F.one_hot(labels.clamp(0, num_classes), num_classes + 1).permute(0, 3, 1, 2).float()


def conditioning(onehot: torch.Tensor, lowres: torch.Tensor | None) -> torch.Tensor:
    """The generator's conditioning at full resolution: ``[N, C + 5, H, W]``.

    :param onehot: ``[N, C + 1, H, W]`` map (see :func:`onehot_map`).
    :param lowres: ``[N, 3, H, W]`` upsampled low-res frames in [0, 1], negative (e.g. -1) in frames
        that have none; None when no frame has one. The fifth channel flags where it is present.
    """
    n, _, h, w = onehot.shape
    if lowres is None:
        return torch.cat([onehot, onehot.new_zeros(n, 4, h, w)], 1)
    present = (lowres[:, :1] >= 0).float()
    return torch.cat([onehot, lowres.clamp_min(0) * present, present], 1)


class Encoder(nn.Module):
    """Frame -> continuous latent on the token grid: ``[N, 3, H, W] -> [N, D, H/16, W/16]``."""

    def __init__(self, config: CodecNetConfig) -> None:
        super().__init__()
        w = config.width
        self.body = nn.Sequential(
            down(3, 24),
            down(24, 48),
            ResBlock(48),
            down(48, 96),
            ResBlock(96),
            down(96, w),
            ResBlock(w),
            nn.Conv2d(w, config.code_dim, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """See the class docstring."""
        return self.body(images)


class Scorer(nn.Module):
    """Importance of each token given the latent and the map: ``-> [N, H/16, W/16]``.

    Trained to predict how badly the receiver reconstructs a token's 16×16 block when that
    token is not sent; the transmitter keeps the highest-scoring ones.
    """

    def __init__(self, config: CodecNetConfig) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(config.code_dim + config.num_classes + 1, 64, 3, 1, 1),
            nn.SiLU(inplace=True),
            nn.Conv2d(64, 64, 3, 1, 1),
            nn.SiLU(inplace=True),
            nn.Conv2d(64, 1, 1),
        )

    def forward(self, latent: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """``latent [N, D, h, w]``, ``onehot [N, C + 1, H, W]`` -> scores ``[N, h, w]``."""
        pooled = F.adaptive_avg_pool2d(onehot, spatial(latent))
        return self.body(torch.cat([latent, pooled], 1))[:, 0]


class Demasker(nn.Module):
    """Kept codewords + mask tokens + map -> features on the token grid ``[N, width, h, w]``."""

    def __init__(self, config: CodecNetConfig) -> None:
        super().__init__()
        w = config.width
        self.embed = nn.Conv2d(config.code_dim, w, 1)
        self.mask_token = nn.Parameter(torch.zeros(1, w, 1, 1))
        self.fuse = nn.Conv2d(w + config.num_classes + 2, w, 1)
        self.blocks = nn.ModuleList([ResBlock(w), SelfAttention(w), ResBlock(w), ResBlock(w)])

    def forward(self, codewords: torch.Tensor, keep: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """``codewords [N, D, h, w]``, ``keep [N, h, w]`` bool, ``onehot [N, C + 1, H, W]``."""
        kept = keep[:, None].float()
        tokens = self.embed(codewords) * kept + self.mask_token * (1 - kept)
        pooled = F.adaptive_avg_pool2d(onehot, spatial(codewords))
        x = self.fuse(torch.cat([tokens, pooled, kept], 1))
        for block in self.blocks:
            x = block(x)
        return x


class Generator(nn.Module):
    """Grid features + conditioning -> frame: SPADE residual blocks from 1/16 up to 1/2, then a
    map-conditioned head at full resolution. ``[N, width, h, w]`` -> ``[N, 3, 16h, 16w]`` in [0, 1].
    """

    def __init__(self, config: CodecNetConfig) -> None:
        super().__init__()
        k, hidden = config.cond_channels, config.spade_hidden
        widths = (config.width, *config.gen_widths)
        self.blocks = nn.ModuleList(
            [SpadeResBlock(config.width, config.width, k, hidden)]
            + [SpadeResBlock(widths[i], widths[i + 1], k, hidden) for i in range(len(config.gen_widths))]
        )
        self.head = nn.Sequential(  # cheap at full resolution: a 1×1 mix, then one small 3×3
            nn.Conv2d(widths[-1] + k, config.head, 1),
            nn.SiLU(inplace=True),
            nn.Conv2d(config.head, 3, 3, 1, 1),
        )

    def forward(self, features: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """See the class docstring; ``cond`` is ``[N, C + 5, H, W]``."""
        x = features
        for number, block in enumerate(self.blocks):
            if number:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = block(x, F.adaptive_avg_pool2d(cond, spatial(x)))
        x = F.interpolate(x, size=cond.shape[-2:], mode="bilinear", align_corners=False)
        return torch.sigmoid(self.head(torch.cat([x, cond], 1)))


class SemanticCodecNet(nn.Module):
    """Encoder, quantiser, scorer, de-masker and generator of the semantic codecs.

    :param config: the network's shape.
    """

    def __init__(self, config: CodecNetConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.quantizer = EmaQuantizer(config.codes, config.code_dim)
        self.scorer = Scorer(config)
        self.demasker = Demasker(config)
        self.generator = Generator(config)

    def decode(
        self, indices: torch.Tensor, keep: torch.Tensor, onehot: torch.Tensor, lowres: torch.Tensor | None
    ) -> torch.Tensor:
        """Reconstruct frames from what arrived.

        :param indices: ``[N, h, w]`` codeword indices (any value where ``keep`` is False).
        :param keep: ``[N, h, w]`` bool, True where a token arrived.
        :param onehot: ``[N, C + 1, H, W]`` received map (unknown where missing).
        :param lowres: ``[N, 3, H, W]`` upsampled low-res frames, negative where absent, or None.
        :return: ``[N, 3, H, W]`` in [0, 1].
        """
        codewords = self.quantizer.lookup(indices.clamp(0, self.config.codes - 1))
        return self.decode_codewords(codewords, keep, onehot, lowres)

    def decode_codewords(
        self, codewords: torch.Tensor, keep: torch.Tensor, onehot: torch.Tensor, lowres: torch.Tensor | None
    ) -> torch.Tensor:
        """As :meth:`decode` with codewords ``[N, D, h, w]`` instead of indices (training)."""
        features = self.demasker(codewords, keep, onehot)
        return self.generator(features, conditioning(onehot, lowres))
