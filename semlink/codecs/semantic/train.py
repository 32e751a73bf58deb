"""Training the semantic codec network with Lightning: one run per label set serves every
semantic codec, because the decoder is trained on random patterns of arriving streams.

Losses: class-weighted L1 (heavier on the blocks whose token arrived, so that a sent token must
pay off where it was sent), a task loss (cross-entropy of the frozen shipped segmenter on the
reconstruction against the transmitted map: what the receiver's evaluator will do), the VQ
commitment loss, the scorer's regression loss and, after a warm-up, a hinge PatchGAN loss with
feature matching. No pretrained perceptual network is used (none can be fetched here).

Each leg starts with a token warm-up (:data:`~semlink.codecs.semantic.streams_sim.WARMUP_POLICY`):
the true map with many tokens, so the encoder, codebook and decoder learn the appearance the
map cannot carry before the decoder learns to do without tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from semlink.codecs.semantic.discriminator import PatchDiscriminator
from semlink.codecs.semantic.net import CodecNetConfig, SemanticCodecNet, onehot_map
from semlink.codecs.semantic.quantizer import perplexity
from semlink.codecs.semantic.streams_sim import (
    WARMUP_POLICY,
    DropoutPolicy,
    block_error,
    block_mask,
    drop_map,
    keep_tokens,
    lowres_images,
)
from semlink.training import LegClock


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator's loss terms.

    :param l1: class-weighted L1.
    :param token_l1: extra L1 weight (relative) on the blocks whose token arrived.
    :param task: cross-entropy of the frozen segmenter on the reconstruction.
    :param commitment: VQ commitment.
    :param scorer: the scorer's regression to the block errors.
    :param adversarial: hinge generator loss (after ``gan_start`` of training).
    :param feature_matching: L1 between discriminator features of real and fake.
    :param gan_start: fraction of training after which the GAN terms switch on.
    :param token_warmup: fraction of each leg trained with the token warm-up's streams.
    """

    l1: float = 10.0
    token_l1: float = 2.0
    task: float = 1.0
    commitment: float = 0.25
    scorer: float = 1.0
    adversarial: float = 0.05
    feature_matching: float = 1.0
    gan_start: float = 0.3
    token_warmup: float = 0.2


class CodecModule(L.LightningModule):
    """Generator (the codec network) and discriminator, optimised in turn (manual optimisation).

    :param config: network shape.
    :param segmenter: the frozen segmenter (``[N, 3, H, W]`` in [0, 1] -> logits) of the task loss.
    :param class_weights: ``[C]`` weights of L1 and the task loss.
    :param lr: the leg's peak learning rate.
    :param total_steps: the leg's step budget.
    :param max_minutes: the leg's time budget; its schedule ends at it even if steps remain.
    :param weights: loss weights.
    :param policy: stream dropout policy.
    :param seed: seed of the stream draws.
    :param offset: steps of earlier legs (:attr:`steps_done` counts the run's steps).
    :param gan_started: the GAN terms are on from the first step (a resumed run that had them on).
    :param optimizer_states: ``[generator, discriminator]`` Adam states of an earlier leg.
    """

    class_weights: torch.Tensor

    def __init__(
        self,
        config: CodecNetConfig,
        segmenter: nn.Module,
        class_weights: torch.Tensor,
        lr: float = 2e-3,
        total_steps: int = 1000,
        max_minutes: float | None = None,
        weights: LossWeights | None = None,
        policy: DropoutPolicy | None = None,
        seed: int = 0,
        offset: int = 0,
        gan_started: bool = False,
        optimizer_states: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.net = SemanticCodecNet(config)
        self.disc = PatchDiscriminator(config.num_classes + 1)
        self.segmenter = segmenter.eval()
        for parameter in self.segmenter.parameters():
            parameter.requires_grad_(False)
        self.register_buffer("class_weights", torch.cat([class_weights, torch.zeros(1)]))
        self.lr = lr
        self.clock = LegClock(total_steps, max_minutes)
        self.weights = weights or LossWeights()
        self.policy = policy or DropoutPolicy()
        self.generator_rng = torch.Generator().manual_seed(seed)
        self.offset = self.steps_done = offset
        self.gan_started = gan_started
        self.optimizer_states = optimizer_states
        self.codebook_stats: dict[str, float] = {}

    def train(self, mode: bool = True) -> CodecModule:
        """Switch modes, keeping the frozen segmenter in eval mode (its batch norm statistics)."""
        super().train(mode)
        self.segmenter.eval()
        return self

    def progress(self) -> float:
        """Fraction of the leg done: the larger of its step and its time fraction."""
        return self.clock.progress(self.steps_done - self.offset)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """One generator step and one discriminator step."""
        images, maps = batch
        c = self.net.config.num_classes
        maps = maps.clamp(0, c)
        g = self.generator_rng
        gan_on = self.gan_started or self.progress() >= self.weights.gan_start
        self.gan_started = gan_on
        recon, onehot_true, losses = self._generator_losses(images, maps, g, gan_on)
        opt_g, opt_d = cast(list[Any], self.optimizers())
        total = sum(losses.values(), torch.zeros(()))
        opt_g.zero_grad()
        self.manual_backward(total)
        opt_g.step()
        if gan_on:
            real, _ = self.disc(images, onehot_true)
            fake, _ = self.disc(recon.detach(), onehot_true)
            d_loss = F.relu(1 - real).mean() + F.relu(1 + fake).mean()
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.step()
            losses["disc"] = d_loss.detach()
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if gan_on else schedulers[:1]:  # type: ignore[index, union-attr]
            scheduler.step()
        self.steps_done += 1
        if self.progress() >= 1.0:
            self.trainer.should_stop = True
        self.log("loss", total.detach(), prog_bar=True)
        for name, value in losses.items():
            self.log(name, value.detach())
        for name, number in self.codebook_stats.items():
            self.log(name, number)

    def _generator_losses(
        self, images: torch.Tensor, maps: torch.Tensor, g: torch.Generator, gan_on: bool
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        c, w = self.net.config.num_classes, self.weights
        onehot_true = onehot_map(maps, c)
        latent = self.net.encoder(images)
        quantised, indices, commitment = self.net.quantizer(latent)
        scores = self.net.scorer(latent.detach(), onehot_true)
        policy = WARMUP_POLICY if self.progress() < w.token_warmup else self.policy
        keep = keep_tokens(scores.detach().cpu(), policy, g).to(images.device)
        received = drop_map(maps.cpu(), c, policy, g).to(images.device)
        lowres = lowres_images(images.cpu(), policy, g).to(images.device)
        recon = self.net.decode_codewords(quantised, keep, onehot_map(received, c), lowres)
        pixel_weights = self.class_weights[maps].clamp_min(0.2)[:, None] * (1 + w.token_l1 * block_mask(keep))
        self.codebook_stats = {
            "perplexity": perplexity(indices, self.net.config.codes),
            "restarts": float(self.net.quantizer.restarts),
        }
        losses = {
            "l1": w.l1 * ((recon - images).abs() * pixel_weights).mean(),
            "task": w.task
            * F.cross_entropy(self.segmenter(recon), maps, weight=self.class_weights[:c], ignore_index=c),
            "commit": w.commitment * commitment,
        }
        masked = ~keep
        if masked.any():
            target = 10.0 * block_error(recon.detach(), images)
            losses["scorer"] = w.scorer * F.mse_loss(scores[masked], target[masked])
        if gan_on:
            fake, fake_features = self.disc(recon, onehot_true)
            with torch.no_grad():
                _, real_features = self.disc(images, onehot_true)
            losses["adv"] = -w.adversarial * fake.mean()
            losses["fm"] = w.feature_matching * sum(
                (F.l1_loss(f, r) for f, r in zip(fake_features, real_features, strict=True)), torch.zeros(())
            )
        return recon, onehot_true, losses

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        """Adam for generator and discriminator (continuing ``optimizer_states`` if given), both
        on the leg's warm-up + cosine schedule."""
        opt_g = torch.optim.Adam(self.net.parameters(), lr=self.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(self.disc.parameters(), lr=self.lr, betas=(0.5, 0.999))
        for optimizer, state in zip((opt_g, opt_d), self.optimizer_states or [], strict=False):
            optimizer.load_state_dict(state)
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] = self.lr

        def factor(_: int) -> float:
            return self.clock.factor(self.steps_done - self.offset)

        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in (opt_g, opt_d)]
        return [opt_g, opt_d], schedulers
