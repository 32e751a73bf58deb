"""Shared fixtures: small synthetic frames and the CamVid folder when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from semlink.data.camvid import default_camvid_root


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    """The CamVid folder, or skip the test with the reason."""
    root = default_camvid_root()
    if not (root / "val").is_dir():
        pytest.skip(f"CamVid not found at {root} (set SEMLINK_CAMVID to its SegNet-layout folder)")
    return root
