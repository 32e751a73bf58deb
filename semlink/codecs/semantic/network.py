"""The semantic codecs' network at run time: loading a checkpoint once per process, turning frames
and maps into its tensors, the encoder's analysis (tokens and their ranking) and the decoder pass.

The stream parts (:mod:`~semlink.codecs.semantic.parts`) never touch torch; they hand this module
numpy arrays and get numpy arrays back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from semlink.codecs.semantic.caption import Caption
from semlink.codecs.semantic.checkpoint import load_codec
from semlink.codecs.semantic.map_coder import MapCoder
from semlink.codecs.semantic.net import GRID, SemanticCodecNet, onehot_map
from semlink.codecs.semantic.token_coder import TokenCoder
from semlink.data.labelset import LabelSet
from semlink.device import pick_device

Analysis = tuple[np.ndarray, np.ndarray]
"""A frame's codeword indices ``[h, w]`` and its grid positions ranked by importance ``[h * w]``."""


@functools.lru_cache(maxsize=4)
def shared_model(path: str, device: str) -> tuple[SemanticCodecNet, LabelSet, MapCoder, TokenCoder]:
    """The network and coders of a checkpoint, loaded once per process and device."""
    net, label_set, map_model = load_codec(Path(path))
    net = net.to(pick_device(device))
    prior = net.quantizer.prior().cpu().numpy()
    return net, label_set, MapCoder(map_model, label_set.num_classes), TokenCoder(prior)


def pad_to_grid(array: torch.Tensor) -> torch.Tensor:
    """Replicate-pad ``[N, C, H, W]`` at the bottom and right to multiples of 16."""
    h, w = array.shape[-2:]
    return torch.nn.functional.pad(array, (0, -w % GRID, 0, -h % GRID), mode="replicate")


@dataclass
class DecoderInputs:
    """What the receiver has of one frame once its streams are decoded: the network's inputs,
    and what the steps after the network read.

    :param labels: ``[H, W]`` map with *unknown* (C) where nothing arrived (backup filled in).
    :param primary: the map as its own stream gave it, before the backup (derived token positions).
    :param keep: ``[h, w]`` bool, tokens that arrived.
    :param indices: ``[h, w]`` int64 codeword indices (meaningful where ``keep``).
    :param lowres: the upsampled low-res frame ``[H, W, 3]`` uint8, or None.
    :param caption: the caption that arrived readable, or None.
    """

    labels: np.ndarray
    primary: np.ndarray
    keep: np.ndarray
    indices: np.ndarray
    lowres: np.ndarray | None = None
    caption: Caption | None = None

    @classmethod
    def nothing(cls, shape: tuple[int, int], unknown: int) -> DecoderInputs:
        """The inputs of a frame of which nothing arrived: an unknown map, no token, no low-res."""
        grid = (-(-shape[0] // GRID), -(-shape[1] // GRID))
        labels = np.full(shape, unknown, dtype=np.uint8)
        return cls(labels, labels.copy(), np.zeros(grid, dtype=bool), np.zeros(grid, dtype=np.int64))


class NetworkRunner:
    """The network of a checkpoint on a device, fed with numpy frames and maps.

    :param net: the loaded network.
    :param label_set: its label set (``num_classes`` is the *unknown* class of the map).
    """

    def __init__(self, net: SemanticCodecNet, label_set: LabelSet) -> None:
        self.net = net
        self.label_set = label_set
        self.device = next(net.parameters()).device

    def frame_tensor(self, image: np.ndarray) -> torch.Tensor:
        """``image [H, W, 3]`` uint8 as ``[3, H', W']`` in [0, 1] on the device, padded to the grid."""
        pixels = np.require(image, requirements=["C", "W"])  # torch refuses read-only arrays (e.g. decoded frames)
        x = torch.from_numpy(pixels).to(self.device).permute(2, 0, 1)[None].float() / 255
        return pad_to_grid(x)[0]

    def labels_tensor(self, labels: np.ndarray) -> torch.Tensor:
        """``labels [H, W]`` as ``[H', W']`` int64 on the device, padded to the grid."""
        return pad_to_grid(torch.from_numpy(labels).to(self.device)[None, None].float())[0, 0].long()

    def map_tensor(self, ssm: np.ndarray | None, padded: tuple[int, int] | torch.Size) -> torch.Tensor:
        """The encoder's view of the map ``[H', W']``: all *unknown* without one."""
        if ssm is None:
            return torch.full(tuple(padded), self.label_set.num_classes, dtype=torch.long, device=self.device)
        return self.labels_tensor(ssm)

    @torch.inference_mode()
    def analyse_batch(self, images: Sequence[np.ndarray], ssms: Sequence[np.ndarray | None]) -> list[Analysis]:
        """Each frame's :data:`Analysis`: one forward pass per group of frames of one size.

        On this project's CPUs the encoder, quantiser and scorer give bitwise the same tokens and
        order in a batch as alone (tested), so a bitstream does not depend on the batch.
        """
        out: list[Analysis | None] = [None] * len(images)
        groups: dict[tuple[int, ...], list[int]] = {}
        for number, image in enumerate(images):
            groups.setdefault(tuple(image.shape), []).append(number)
        for members in groups.values():
            x = torch.stack([self.frame_tensor(images[i]) for i in members])
            labels = torch.stack([self.map_tensor(ssms[i], x.shape[-2:]) for i in members])
            latent = self.net.encoder(x)
            indices = self.net.quantizer.indices(latent)
            scores = self.net.scorer(latent, onehot_map(labels, self.label_set.num_classes))
            for row, number in enumerate(members):
                order = torch.argsort(scores[row].flatten(), descending=True, stable=True)
                out[number] = (indices[row].cpu().numpy(), order.cpu().numpy())
        return [analysis for analysis in out if analysis is not None]

    def decode_batch(self, inputs: Sequence[DecoderInputs]) -> list[np.ndarray]:
        """The decoder over any frames: one pass per group of one size, with or without low-res."""
        out: list[np.ndarray | None] = [None] * len(inputs)
        groups: dict[tuple[tuple[int, ...], bool], list[int]] = {}
        for number, one in enumerate(inputs):
            groups.setdefault((one.labels.shape, one.lowres is not None), []).append(number)
        for members in groups.values():
            for number, image in zip(members, self.reconstruct_batch([inputs[i] for i in members]), strict=True):
                out[number] = image
        return [image for image in out if image is not None]

    @torch.inference_mode()
    def reconstruct_batch(self, inputs: Sequence[DecoderInputs]) -> list[np.ndarray]:
        """The decoder network over frames of one size, all with a low-res image or all without:
        ``[H, W, 3]`` uint8 each."""
        h, w = inputs[0].labels.shape
        labels_t = torch.stack([self.labels_tensor(one.labels) for one in inputs])
        lowres_t = None
        if inputs[0].lowres is not None:
            lowres_t = torch.stack([self.frame_tensor(np.asarray(one.lowres)) for one in inputs])
        out = self.net.decode(
            torch.stack([torch.from_numpy(one.indices) for one in inputs]).to(self.device),
            torch.stack([torch.from_numpy(one.keep) for one in inputs]).to(self.device),
            onehot_map(labels_t, self.label_set.num_classes),
            lowres_t,
        )
        pixels = (out[:, :, :h, :w] * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        return list(pixels)
