"""Saving and loading segmenter checkpoints (plain tensors and dicts, never pickled objects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


RESUME_FORMAT = "semlink-resume-1"


def resume_path(checkpoint: Path) -> Path:
    """The resume state beside ``checkpoint``: ``X.pt`` -> ``X.resume``.

    Not ``.pt``, so the package data globs never ship it: it holds the optimizer state and
    the last (not the selected) weights, several times the checkpoint's size.
    """
    return checkpoint.with_suffix(".resume")


def save_resume(checkpoint: Path, kind: str, state: dict[str, object]) -> Path:
    """Write the resume state of a ``kind`` run (``segmenter``/``codec``) beside ``checkpoint``."""
    path = resume_path(checkpoint)
    torch.save({"format": RESUME_FORMAT, "kind": kind, **state}, path)
    return path


def load_resume(checkpoint: Path, kind: str) -> dict[str, Any]:
    """The resume state written beside ``checkpoint`` by a ``kind`` run.

    :raises CheckpointError: naming the file and the fix if it is missing or of another kind.
    """
    path = resume_path(checkpoint)
    if not checkpoint.is_file():
        raise CheckpointError(f"--resume {checkpoint}: no such checkpoint; pass the .pt of an earlier run")
    if not path.is_file():
        raise CheckpointError(
            f"--resume {checkpoint}: its resume state {path} is missing (only runs of `semlink train` "
            "write one, and it is not shipped); train a new run without --resume"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise CheckpointError(f"resume state {path} cannot be read: {error}") from None
    if not isinstance(payload, dict) or payload.get("format") != RESUME_FORMAT:
        raise CheckpointError(f"{path} is not a semlink resume state; train a new run without --resume")
    if payload.get("kind") != kind:
        raise CheckpointError(
            f"--resume {checkpoint} continues a {payload.get('kind')} run, not a {kind} run; "
            f"use `semlink train {payload.get('kind')}`"
        )
    return payload
