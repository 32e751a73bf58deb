"""Vector quantisation with an EMA codebook and dead-code restart (van den Oord et al. 2017;
Razavi et al. 2019), as SQ-GAN trains its codebooks. Written here: the libraries that provide
it pull in dependencies this project cannot install.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EmaQuantizer(nn.Module):
    """Nearest-codeword quantiser whose codebook follows exponential moving averages.

    The usage counts it keeps double as the learned prior of the indices (what the entropy
    coder uses), see :meth:`prior`.

    :param codes: codebook size K.
    :param dim: codeword dimension D.
    :param decay: EMA decay.
    :param restart_below: a codeword whose EMA count falls below this is moved onto a random
        encoder output of the batch (dead-code restart).
    """

    codebook: torch.Tensor
    counts: torch.Tensor
    sums: torch.Tensor

    def __init__(self, codes: int, dim: int, decay: float = 0.99, restart_below: float = 0.05) -> None:
        super().__init__()
        self.decay, self.restart_below = decay, restart_below
        self.register_buffer("codebook", torch.randn(codes, dim) * 0.1)
        self.register_buffer("counts", torch.ones(codes))
        self.register_buffer("sums", self.codebook.clone())
        self.restarts = 0  # codewords restarted by the last training update (the dead codes it found)

    @property
    def codes(self) -> int:
        """Codebook size K."""
        return int(self.codebook.shape[0])

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest codeword of each position: ``[N, D, h, w] -> [N, h, w]`` int64."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        distance = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t() + self.codebook.pow(2).sum(1)[None]
        return distance.argmin(1).view(z.shape[0], z.shape[2], z.shape[3])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codewords of ``indices``: ``[N, h, w] -> [N, D, h, w]``."""
        return F.embedding(indices, self.codebook).permute(0, 3, 1, 2)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantise ``z [N, D, h, w]``.

        :return: quantised ``[N, D, h, w]`` with a straight-through gradient, indices
            ``[N, h, w]``, and the commitment loss (scalar).
        """
        indices = self.indices(z.detach())
        quantised = self.lookup(indices)
        if self.training:
            self._update(z.detach(), indices)
        commitment = F.mse_loss(z, quantised.detach())
        return z + (quantised - z).detach(), indices, commitment

    @torch.no_grad()
    def _update(self, z: torch.Tensor, indices: torch.Tensor) -> None:
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        onehot = F.one_hot(indices.view(-1), self.codes).type_as(flat)
        self.counts.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.sums.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        total = self.counts.sum()
        smoothed = (self.counts + 1e-5) / (total + self.codes * 1e-5) * total
        self.codebook.copy_(self.sums / smoothed[:, None])
        dead = self.counts < self.restart_below
        self.restarts = int(dead.sum())
        if dead.any():
            picks = torch.randint(len(flat), (int(dead.sum()),), device=flat.device)
            self.codebook[dead] = flat[picks]
            self.sums[dead] = flat[picks]
            self.counts[dead] = 1.0

    def prior(self) -> torch.Tensor:
        """``[K]`` probabilities of the codewords from their usage counts (floored, sums to 1)."""
        p = self.counts.clamp_min(0) + 1e-3 * self.counts.sum() / self.codes
        return p / p.sum()


def perplexity(indices: torch.Tensor, codes: int) -> float:
    """Perplexity (2 ** entropy in bits) of the codeword histogram of ``indices`` (any shape) over
    ``codes`` codewords: how many codewords are in effective use."""
    counts = torch.bincount(indices.flatten().cpu(), minlength=codes).double()
    p = counts[counts > 0] / counts.sum()
    return float(2 ** -(p * p.log2()).sum())


def usage(indices: torch.Tensor, prior: torch.Tensor) -> dict[str, float]:
    """How a set of codeword ``indices`` (any shape) uses a codebook with ``prior [K]``.

    :return: ``perplexity`` of the indices, ``unused codes`` (no index among them),
        ``entropy bits`` (empirical entropy of the indices per token) and ``prior bits`` (bits per
        token that coding them under ``prior`` costs: the token coder's rate).
    """
    codes = int(prior.shape[0])
    counts = torch.bincount(indices.flatten().cpu(), minlength=codes).double()
    p = counts / counts.sum()
    used = p > 0
    return {
        "perplexity": perplexity(indices, codes),
        "unused codes": float((~used).sum()),
        "entropy bits": float(-(p[used] * p[used].log2()).sum()),
        "prior bits": float(-(p[used] * prior.double().cpu()[used].log2()).sum()),
    }
