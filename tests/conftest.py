"""Shared fixtures: small synthetic frames and the CamVid folder when present.

A test that needs CamVid says so with the ``camvid`` marker (``@pytest.mark.camvid``, or the
``camvid_root`` fixture, which adds the marker): it is skipped, with the reason, where CamVid is
absent (a fresh clone without ``../shared``). Every other test runs with ``$SEMLINK_CAMVID``
pointing at a folder that does not exist, in its own process and in those it starts, so a test
that reaches for CamVid without the marker fails here, on a machine that has CamVid, rather than
only on a newcomer's machine without it. ``pytest -m camvid`` runs the tests that need it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from semlink.data.camvid import CAMVID_ENV, camvid_candidates, default_camvid_root

# Property tests draw the same examples on every run (CI and a user's rerun agree) and keep no
# example database in the checkout; their hang guard is in the tests, not a per-example deadline.
settings.register_profile("semlink", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("semlink")

CAMVID = default_camvid_root()
"""Where CamVid is on this machine (looked up once, before any test changes the environment)."""
CAMVID_MARK = "camvid"
NO_CAMVID = Path("/nonexistent/semlink-tests-declare-camvid")
"""What ``$SEMLINK_CAMVID`` points at in the tests without the ``camvid`` marker."""


def camvid_missing_reason() -> str | None:
    """Why CamVid cannot be used here, or None when it can."""
    if (CAMVID / "val").is_dir():
        return None
    looked = ", ".join(map(str, camvid_candidates()))
    return f"CamVid not found (looked in {looked}); set {CAMVID_ENV} to its SegNet-layout folder"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the ``camvid_root`` fixture as a ``camvid`` test."""
    for item in items:
        if "camvid_root" in getattr(item, "fixturenames", ()):
            item.add_marker(CAMVID_MARK)


@pytest.fixture(autouse=True)
def camvid_only_where_declared(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``camvid`` test gets the real CamVid (or is skipped with the reason); any other test, none."""
    if request.node.get_closest_marker(CAMVID_MARK) is None:
        monkeypatch.setenv(CAMVID_ENV, str(NO_CAMVID))
        return
    reason = camvid_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    monkeypatch.setenv(CAMVID_ENV, str(CAMVID))


@pytest.fixture
def camvid_root() -> Path:
    """The CamVid folder (a test using it is a ``camvid`` test: skipped where CamVid is absent)."""
    return CAMVID
