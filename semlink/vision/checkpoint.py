"""Saving and loading segmenter checkpoints (plain tensors and dicts, never pickled objects)."""

from __future__ import annotations

from pathlib import Path

import torch

from semlink.data.labelset import CAMVID, CITYSCAPES, LabelSet
from semlink.vision.net import FastSegNet, SegNetConfig

LABEL_SETS = {label_set.name: label_set for label_set in (CITYSCAPES, CAMVID)}


class CheckpointError(ValueError):
    """A checkpoint file is missing or is not a semlink segmenter checkpoint."""


def save_segmenter(path: Path, net: FastSegNet, label_set: LabelSet, meta: dict[str, object]) -> None:
    """Write ``net`` with its config, label set name and metadata to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    payload = {
        "format": "semlink-segmenter-1",
        "config": {
            "num_classes": net.config.num_classes,
            "widths": list(net.config.widths),
            "decoder": net.config.decoder,
        },
        "label_set": label_set.name,
        "meta": meta,
        "state_dict": state,
    }
    torch.save(payload, path)


def load_segmenter(path: Path) -> tuple[FastSegNet, LabelSet]:
    """Rebuild the network and label set stored in ``path`` (loaded with ``weights_only``).

    :raises CheckpointError: if the file is missing or not a segmenter checkpoint.
    """
    if not path.is_file():
        raise CheckpointError(
            f"segmenter checkpoint {path} does not exist; train one with `semlink train segmenter` or pass another path"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise CheckpointError(f"segmenter checkpoint {path} cannot be read: {error}") from None
    if not isinstance(payload, dict) or payload.get("format") != "semlink-segmenter-1":
        raise CheckpointError(f"{path} is not a semlink segmenter checkpoint")
    try:
        cfg = payload["config"]
        config = SegNetConfig(
            num_classes=int(cfg["num_classes"]), widths=tuple(cfg["widths"]), decoder=int(cfg["decoder"])
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has a damaged config: {error}") from None
    try:
        net = FastSegNet(config)
        net.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} does not hold a usable segmenter: {error}") from None
    label_set = LABEL_SETS.get(str(payload["label_set"]))
    if label_set is None:
        raise CheckpointError(f"{path} names an unknown label set {payload['label_set']!r}")
    return net.eval(), label_set
