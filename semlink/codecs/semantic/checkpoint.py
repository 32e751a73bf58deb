"""Saving and loading semantic codec checkpoints (plain tensors and dicts, never pickled objects)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from semlink.codecs.semantic.net import CodecNetConfig, SemanticCodecNet
from semlink.data.labelset import CAMVID, CITYSCAPES, LabelSet

LABEL_SETS = {label_set.name: label_set for label_set in (CITYSCAPES, CAMVID)}
FORMAT = "semlink-semantic-codec-1"
CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
"""Where the shipped checkpoints live: ``semantic-<label set>.pt`` with a ``.txt`` record beside."""


class CodecCheckpointError(ValueError):
    """A codec checkpoint is missing, damaged or of another kind."""


def shipped_codec_path(label_set: str) -> Path:
    """Path of the shipped codec checkpoint for ``label_set``."""
    return CHECKPOINTS / f"semantic-{label_set}.pt"


def save_codec(
    path: Path, net: SemanticCodecNet, label_set: LabelSet, map_model: np.ndarray, meta: dict[str, object]
) -> None:
    """Write ``net`` (float16 weights), its config, the map coder's context model and ``meta``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()) for k, v in net.state_dict().items()
    }
    payload = {
        "format": FORMAT,
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in net.config.to_dict().items()},
        "label_set": label_set.name,
        "map_model": torch.from_numpy(map_model.astype(np.float16)),
        "meta": meta,
        "state_dict": state,
    }
    torch.save(payload, path)


def replace_map_model(path: Path, map_model: np.ndarray) -> None:
    """Rewrite the map coder's context model inside the checkpoint at ``path`` (network untouched).

    :raises CodecCheckpointError: if ``path`` is not a codec checkpoint.
    """
    load_codec(path)  # validates
    payload = torch.load(path, map_location="cpu", weights_only=True)
    payload["map_model"] = torch.from_numpy(map_model.astype(np.float16))
    torch.save(payload, path)


def load_codec(path: Path) -> tuple[SemanticCodecNet, LabelSet, np.ndarray]:
    """The network (eval mode, float32), label set and map context model stored in ``path``.

    :raises CodecCheckpointError: with a one-line reason and the fix.
    """
    if not path.is_file():
        raise CodecCheckpointError(
            f"semantic codec checkpoint {path} does not exist; "
            "train one with `semlink train codec` or pass another path"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        from semlink.vision.exported import safe_load_failure

        fix = "give a checkpoint of `semlink train codec` (tensors and plain values only)"
        raise CodecCheckpointError(safe_load_failure("semantic codec checkpoint", path, error, fix)) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CodecCheckpointError(f"{path} is not a semlink semantic codec checkpoint")
    label_set = LABEL_SETS.get(str(payload.get("label_set")))
    if label_set is None:
        raise CodecCheckpointError(f"{path} names an unknown label set {payload.get('label_set')!r}")
    try:
        raw = dict(payload["config"])
        raw["gen_widths"] = tuple(raw["gen_widths"])
        net = SemanticCodecNet(CodecNetConfig(**raw))
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
        map_model = payload["map_model"].float().numpy()
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise CodecCheckpointError(f"{path} does not hold a usable semantic codec: {error}") from None
    return net.eval(), label_set, map_model
