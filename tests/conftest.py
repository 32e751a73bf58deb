"""Shared fixtures: small synthetic frames and the CamVid folder when present."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from semlink.data.camvid import default_camvid_root

# Property tests draw the same examples on every run (CI and a user's rerun agree) and keep no
# example database in the checkout; their hang guard is in the tests, not a per-example deadline.
settings.register_profile("semlink", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("semlink")


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    """The CamVid folder, or skip the test with the reason."""
    root = default_camvid_root()
    if not (root / "val").is_dir():
        pytest.skip(f"CamVid not found at {root} (set SEMLINK_CAMVID to its SegNet-layout folder)")
    return root
