"""Rows do not depend on the machine: one scenario and seed give the same ``results.csv`` in one
pipeline, on two local workers and as Ray tasks, whatever share of the cores each process gets.

Before ``compute_threads``, ``sqgan`` at map x2 on 24 frames of 256x512 gave ``iou_pole`` 0.4539 in
one pipeline and 0.4538 with ``--workers 2`` (each worker ran its networks on fewer threads and a
few pixels flipped). Networks now run on the scenario's ``compute_threads`` in every process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import semlink


def scenario(frames: int, size: list[int]) -> dict[str, Any]:
    """``sqgan`` at map x2 over a lossy channel: two points, so two workers get one each."""
    return {
        "name": "determinism",
        "seed": 11,
        "data": {"source": "synthetic", "split": "val", "frames": frames, "size": size},
        "codecs": [{"name": "sqgan", "map_scale": 2, "tokens": [0.1, 0.3]}],
        "channel": {"model": "bernoulli", "loss": 0.05},
        "transport": "inproc",
        "compute_threads": 2,
        "cache": False,
    }


def rows_of(out: Path) -> str:
    """``results.csv`` as written (the point keys included)."""
    return (out / "results.csv").read_text()


def check_identical(study: dict[str, Any], tmp_path: Path, executors: list[tuple[str, int]]) -> None:
    """Run ``study`` once per (executor, workers) and compare each ``results.csv`` to the first."""
    outputs = []
    for executor, workers in executors:
        out = tmp_path / f"{executor}-{workers}"
        semlink.run(study, out=out, report=False, workers=workers, executor=executor)  # type: ignore[arg-type]
        outputs.append(rows_of(out))
    assert outputs[0].count("\n") == 3  # the header and two rows
    for (executor, workers), text in zip(executors[1:], outputs[1:], strict=True):
        assert text == outputs[0], f"{executor} with {workers} workers wrote other rows"


def test_one_pipeline_and_two_workers_write_the_same_rows(tmp_path: Path) -> None:
    check_identical(scenario(4, [128, 256]), tmp_path, [("local", 1), ("local", 2)])


@pytest.mark.slow
def test_the_case_that_differed_is_identical_on_workers_and_ray(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is part of semlink[test]")
    check_identical(scenario(24, [256, 512]), tmp_path, [("local", 1), ("local", 2), ("ray", 2)])
