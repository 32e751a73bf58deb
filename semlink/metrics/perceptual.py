"""Learned perceptual metrics, LPIPS and FID, from networks the user gives.

Nothing is downloaded: the user exports the network once with ``torch.export``, e.g. the
official LPIPS at the frames' size::

    import lpips, torch
    net = lpips.LPIPS(net="alex").eval()
    x = torch.zeros(1, 3, 256, 512)
    torch.export.save(torch.export.export(net, (x, x)), "lpips_alex.pt2")

and names the file in the scenario: ``metrics: [{name: lpips, weights: lpips_alex.pt2}]``. A
TorchScript file (any other suffix) still loads, but torch deprecates TorchScript. See
:mod:`semlink.vision.exported` and docs/plugins.md.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import torch

from semlink.data.labelset import LabelSet
from semlink.metrics.base import METRICS, FrameSample, Metric, check_weights, weighted_mean
from semlink.vision.exported import load_network

FEATURE_DIGITS = 6
"""Significant digits FID keeps of each feature in a frame value."""


def image_tensor(image: np.ndarray, device: str) -> torch.Tensor:
    """``[H, W, 3]`` uint8 -> ``[1, 3, H, W]`` float32 in [0, 1] on ``device``."""
    array = torch.from_numpy(np.ascontiguousarray(image))
    return (array.permute(2, 0, 1)[None].float() / 255.0).to(device)


class NetworkMetric(Metric):
    """Base of metrics computed by a user-given network: settings ``weights`` (required: a
    ``torch.export`` program ``.pt2``, or a TorchScript file), ``device``."""

    defaults: ClassVar[dict[str, Any]] = {"weights": None, "device": "cpu"}
    files: ClassVar[tuple[str, ...]] = ("weights",)
    weights_help: ClassVar[str] = ""
    """What the weights file must hold, for the missing-weights error."""

    def __init__(self, label_set: LabelSet, **settings: Any) -> None:
        super().__init__(label_set, **settings)
        if self.settings["weights"] is None:
            raise ValueError(f"metric {self.name} needs weights: PATH ({self.weights_help}); nothing is downloaded")
        self.device = str(self.settings["device"])
        self.network = load_network(self.settings["weights"], f"metric {self.name}: weights", self.device)


@METRICS.register("lpips")
class LPIPS(NetworkMetric):
    """Learned perceptual image patch similarity (lower is closer) of reconstruction and original.

    Needs the image. Setting ``weights: PATH`` (required): a ``torch.export`` program (``.pt2``;
    or a TorchScript file) of ``f(x, y) -> [N]`` distances for images ``[N, 3, H, W]`` float in
    [-1, 1], e.g. the official LPIPS (see the module docstring; its ``[N, 1, 1, 1]`` output is
    accepted too). Setting ``device`` (default ``cpu``). Frame value: the distance.
    Frames combine as a weighted mean. Column: ``lpips``.
    """

    name: ClassVar[str] = "lpips"
    needs: ClassVar[frozenset[str]] = frozenset({"image"})
    weights_help: ClassVar[str] = "a torch.export .pt2 file mapping two [N,3,H,W] images in [-1,1] to [N] distances"

    def frame(self, sample: FrameSample) -> float:
        """LPIPS distance of the frame's reconstruction to its original."""
        x = image_tensor(sample.image, self.device) * 2.0 - 1.0
        y = image_tensor(sample.recon, self.device) * 2.0 - 1.0
        with torch.inference_mode():
            distance = self.network(x, y)
        if distance.numel() != 1:
            raise ValueError(f"metric lpips: {self.settings['weights']} gave {tuple(distance.shape)} for one frame")
        return float(distance.reshape(()))

    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """Weighted mean distance."""
        return {"lpips": weighted_mean(values, weights)}


@METRICS.register("fid")
class FID(NetworkMetric):
    """Fréchet distance between the feature distributions of originals and reconstructions.

    Needs the image. Setting ``weights: PATH`` (required): a ``torch.export`` program (``.pt2``;
    or a TorchScript file) mapping images ``[N, 3, H, W]`` float in [0, 1] to ``[N, D]`` features
    (e.g. an exported Inception-v3 pool layer), exported for a batch of 2 at the frames' size.
    Setting ``device`` (default ``cpu``). Frame value: ``[original, reconstruction]``, the two
    ``D`` feature vectors as lists of floats to 6 significant digits.
    Frames combine by fitting one Gaussian to each side's features, frames weighted by their
    weights (covariance normalised by ``sum(w) - 1``, numpy's ``fweights``), and taking the
    Fréchet distance of the two fits (NaN with fewer than 2 frames). Column: ``fid``.
    FID is biased upwards for small samples: compare points with equal frame counts, and
    expect a stable figure only from many more frames than feature dimensions.
    """

    name: ClassVar[str] = "fid"
    needs: ClassVar[frozenset[str]] = frozenset({"image"})
    weights_help: ClassVar[str] = "a torch.export .pt2 file mapping [N,3,H,W] images in [0,1] to [N,D] features"

    def frame(self, sample: FrameSample) -> list[list[float]]:
        """``[original features, reconstruction features]``."""
        pair = torch.cat([image_tensor(sample.image, self.device), image_tensor(sample.recon, self.device)])
        with torch.inference_mode():
            features = self.network(pair)
        if features.ndim != 2 or features.shape[0] != 2:
            raise ValueError(f"metric fid: {self.settings['weights']} gave {tuple(features.shape)} for 2 images")
        return [[float(f"{v:.{FEATURE_DIGITS}g}") for v in row] for row in features.double().cpu().tolist()]

    def result(self, values: Sequence[Any], weights: np.ndarray) -> dict[str, float]:
        """Fréchet distance of the weighted Gaussian fits."""
        w = check_weights(values, weights)
        keep = [i for i in range(len(values)) if w[i] > 0]
        if w.sum() < 2:
            return {"fid": math.nan}
        features = np.array([values[i] for i in keep], dtype=np.float64)  # [K, 2, D]
        mean_a, cov_a = gaussian_fit(features[:, 0], w[keep])
        mean_b, cov_b = gaussian_fit(features[:, 1], w[keep])
        return {"fid": frechet_distance(mean_a, cov_a, mean_b, cov_b)}


def gaussian_fit(features: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean ``[D]`` and covariance ``[D, D]`` of ``[K, D]`` features (frequency weights)."""
    total = weights.sum()
    mean = weights @ features / total
    centred = features - mean
    cov = (centred * weights[:, None]).T @ centred / (total - 1.0)
    return mean, cov


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrt(S_a S_b))`` (real part of the matrix root)."""
    with warnings.catch_warnings():
        # With fewer frames than features the covariances are singular: expected, not news.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():
            # As pytorch-fid does: nudge the diagonals and try again.
            offset = np.eye(cov_a.shape[0]) * 1e-6
            root = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    diff = mean_a - mean_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(np.real(root)))
