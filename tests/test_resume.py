"""A resumed run says what it found: how many points were already there and how many run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import semlink

TINY: dict[str, Any] = {
    "name": "resume",
    "seed": 2,
    "data": {"source": "synthetic", "split": "val", "frames": 1, "size": [32, 64]},
    "codecs": [{"name": "jpeg", "quality": [20, 40, 60]}],
    "metrics": ["psnr"],
    "transport": "inproc",
}


class Lines(logging.Handler):
    """Keeps the messages it is given (caplog sees nothing once another test configured the
    ``semlink`` logger not to propagate)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_resumed_run_says_how_many_points_it_found(tmp_path: Path) -> None:
    out = tmp_path / "out"
    semlink.run(TINY, out=out, report=False)
    results = out / "results.csv"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:-1]))  # the last point's row is gone: it runs again
    logger = logging.getLogger("semlink.executors.runner")
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        again = semlink.run(TINY, out=out, report=False)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert again.ran == 1
    said = "\n".join(handler.lines)
    assert "resuming: 2 of 3 points already in" in said and "1 to run" in said
    assert results.read_text() == "".join(lines)
