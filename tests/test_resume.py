"""A resumed run says what it found: how many points were already there and how many run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import semlink

TINY: dict[str, Any] = {
    "name": "resume",
    "seed": 2,
    "data": {"source": "synthetic", "split": "val", "frames": 1, "size": [32, 64]},
    "codecs": [{"name": "jpeg", "quality": [20, 40, 60]}],
    "metrics": ["psnr"],
    "transport": "inproc",
}


def test_a_resumed_run_says_how_many_points_it_found(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    semlink.run(TINY, out=out, report=False)
    results = out / "results.csv"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:-1]))  # the last point's row is gone: it runs again
    with caplog.at_level(logging.INFO, logger="semlink"):
        again = semlink.run(TINY, out=out, report=False)
    assert again.ran == 1
    assert "resuming: 2 of 3 points already in" in caplog.text and "1 to run" in caplog.text
    assert results.read_text() == "".join(lines)
