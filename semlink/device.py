"""Where the networks run: the one place that turns a ``device`` setting into a torch device."""

from __future__ import annotations

import torch


def pick_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else (``cpu``, ``cuda:1``) as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
