"""What the channel does to the streams, simulated on tensors for training: random loss of map
strips, of tokens and of the low-res image, and token selection by score.

Every draw takes the training step's generator, so a run is reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from semlink.codecs.semantic.net import GRID


@dataclass(frozen=True)
class DropoutPolicy:
    """Probabilities of the stream patterns a training sample sees.

    :param map_absent: the whole map is missing (the ``gan`` case, or a lost map stream).
    :param map_strips: some map strips are missing (each with a random probability up to 0.5).
    :param tokens_none: no token arrives (``ssm`` and ``spic``).
    :param tokens_all: every token arrives.
    :param tokens_random: kept tokens are chosen at random rather than by score.
    :param tokens_lost: some kept tokens are then lost (each with a random probability up to 0.5).
    :param lowres: a low-res image arrives.
    :param map_half: the map arrives at half resolution (coded ×2 downsampled, upsampled back).
    :param strip_rows: rows of one map strip.
    """

    map_absent: float = 0.1
    map_strips: float = 0.1
    tokens_none: float = 0.2
    tokens_all: float = 0.2
    tokens_random: float = 0.3
    tokens_lost: float = 0.2
    lowres: float = 0.4
    map_half: float = 0.3
    strip_rows: int = 32


WARMUP_POLICY = DropoutPolicy(
    map_absent=0.0, map_strips=0.0, tokens_none=0.0, tokens_all=0.5, tokens_lost=0.0, lowres=0.0
)
"""The streams of the token warm-up (the start of a leg): the true map and many tokens, never lost,
so the image branch learns what tokens add to the map before it learns to do without them."""


def uniform(n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` uniform draws in [0, 1)."""
    return torch.rand(n, generator=g)


def drop_map(maps: torch.Tensor, unknown: int, policy: DropoutPolicy, g: torch.Generator) -> torch.Tensor:
    """``maps [N, H, W]`` with whole maps or strips set to ``unknown``, some at half resolution."""
    out = maps.clone()
    n, h, w = maps.shape
    half = uniform(n, g) < policy.map_half
    if half.any():
        coarse = maps[half][:, ::2, ::2].repeat_interleave(2, 1).repeat_interleave(2, 2)
        out[half] = coarse[:, :h, :w]
    u = uniform(n, g)
    strips = -(-h // policy.strip_rows)
    for i in range(n):
        if u[i] < policy.map_absent:
            out[i] = unknown
        elif u[i] < policy.map_absent + policy.map_strips:
            lost = uniform(strips, g) < 0.5 * float(uniform(1, g))
            rows = lost.repeat_interleave(policy.strip_rows)[:h]
            out[i, rows] = unknown
    return out


def keep_tokens(scores: torch.Tensor, policy: DropoutPolicy, g: torch.Generator) -> torch.Tensor:
    """Which tokens arrive: ``scores [N, h, w]`` -> bool ``[N, h, w]``.

    Per sample a keep ratio is drawn (none, all, or uniform in (0.02, 0.6)), the top-scoring
    (or random) tokens are kept, and some of those may then be lost.
    """
    n = scores.shape[0]
    flat = scores.flatten(1)
    count = flat.shape[1]
    keep = torch.zeros_like(flat, dtype=torch.bool)
    u, ratio = uniform(n, g), 0.02 + 0.58 * uniform(n, g)
    for i in range(n):
        if u[i] < policy.tokens_none:
            continue
        if u[i] < policy.tokens_none + policy.tokens_all:
            keep[i] = True
            continue
        k = max(1, round(float(ratio[i]) * count))
        ranking = torch.rand(count, generator=g) if float(uniform(1, g)) < policy.tokens_random else flat[i]
        keep[i, ranking.topk(k).indices] = True
        if float(uniform(1, g)) < policy.tokens_lost:
            keep[i] &= uniform(count, g) >= 0.5 * float(uniform(1, g))
    return keep.view_as(scores)


def lowres_images(
    images: torch.Tensor, policy: DropoutPolicy, g: torch.Generator, divisors: tuple[int, ...] = (4, 8)
) -> torch.Tensor:
    """Upsampled low-res versions of ``images [N, 3, H, W]`` (-1 where a sample has none).

    The coding loss of the real stream is stood in for by 8-bit rounding plus a little noise.
    """
    n, _, h, w = images.shape
    out = torch.full_like(images, -1.0)
    present = uniform(n, g) < policy.lowres
    for i in torch.nonzero(present).flatten().tolist():
        d = divisors[int(torch.randint(len(divisors), (1,), generator=g))]
        small = F.avg_pool2d(images[i : i + 1], d)
        small = (small * 255).round() / 255 + 0.015 * torch.randn(small.shape, generator=g)
        out[i] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0].clamp(0, 1)
    return out


def block_mask(keep: torch.Tensor) -> torch.Tensor:
    """``keep [N, h, w]`` bool -> ``[N, 1, 16h, 16w]`` float: 1 on the blocks whose token arrived."""
    return keep[:, None].float().repeat_interleave(GRID, 2).repeat_interleave(GRID, 3)


def block_error(recon: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of each token's 16×16 block: ``-> [N, H/16, W/16]``."""
    return F.avg_pool2d((recon - images).abs().mean(1, keepdim=True), GRID)[:, 0]
