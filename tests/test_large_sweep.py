"""Points reach the nodes and units through the study description (``OUT/logs/study.json``, a
unit's ``study.json``), never on a command line: a 100,000-point sweep starts (an argument list
holding every index ran out past about 23,000 points)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest

from semlink.errors import StageError
from semlink.executors import processes
from semlink.executors.runner import Run
from semlink.executors.workers import unit_command
from semlink.scenario.loading import validate
from semlink.study.study import Study

LOSSES = [round(i / 10_000, 4) for i in range(10_000)]
LARGE: dict[str, Any] = {
    "name": "large",
    "seed": 1,
    "data": {"source": "synthetic", "split": "val", "frames": 1, "size": [32, 32]},
    "codecs": [{"name": "jpeg", "quality": [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]}],
    "channel": {"model": "bernoulli", "loss": LOSSES},
    "metrics": ["psnr"],
    "transport": "zmq",
    "cache": False,
}
LONGEST_COMMAND = 4_000
"""Characters a node's command line may take (its paths and flags; nothing that grows with the sweep)."""


class Started:
    """A node process that starts, says nothing and exits at once (no rows: the run then fails
    in one line, after the start this test is about)."""

    def __init__(self, command: list[str], **options: Any) -> None:
        self.command = command
        self.stdout = io.StringIO("") if options.get("stdout") == subprocess.PIPE else None
        self.returncode = 0

    def poll(self) -> int:
        return 0

    def wait(self, timeout: float | None = None) -> int:
        return 0


def test_a_100000_point_sweep_starts_with_its_points_in_the_study_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Started] = []

    def start(command: list[str], **options: Any) -> Started:
        started.append(Started(command, **options))
        return started[-1]

    monkeypatch.setattr(processes.subprocess, "Popen", start)
    out = tmp_path / "out"
    run = Run(validate(LARGE, "(large)"), "(large)", out, only={99_999})
    with pytest.raises(StageError, match=r"points \[99999\] got no results"):
        run.execute()
    assert [node.command[3] for node in started] == ["receiver", "channel", "transmitter"]
    for node in started:
        assert len(" ".join(node.command)) < LONGEST_COMMAND
        assert node.command[4] == str(out / "logs" / processes.STUDY_FILE)
        assert not any("99999" in word for word in node.command)
    study, pending = Study.from_json((out / "logs" / processes.STUDY_FILE).read_text())  # what each node reads
    assert len(study.points) == 100_000 and pending == {99_999}
    assert study.points[99_999].codec_args == {"quality": 50} and study.points[99_999].params == {"loss": 0.9999}


def test_a_unit_command_names_its_study_file_not_its_points(tmp_path: Path) -> None:
    command = unit_command(tmp_path / "study.json", tmp_path / "unit", 2)
    assert command[-5:] == [
        "semlink.executors.unit",
        str(tmp_path / "study.json"),
        str(tmp_path / "unit"),
        "--threads",
        "2",
    ]


@pytest.mark.slow
@pytest.mark.net
def test_a_100000_point_sweep_runs_one_point_through_the_three_nodes(tmp_path: Path) -> None:
    """The whole path, nodes included (about a minute on two cores)."""
    import csv

    run = Run(validate(LARGE, "(large)"), "(large)", tmp_path / "out", only={99_999})
    assert run.execute() == 1
    with (tmp_path / "out" / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["quality"], row["loss"]) for row in rows] == [("50", "0.9999")]
