"""Thread budgets: each process of a run gets its share, so no run oversubscribes the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from semlink.nodes.threads import THREADS_ENV, node_share, node_threads, run_budget, thread_environment
from semlink.scenario.loading import load_scenario
from semlink.scenario.schema import ScenarioError
from tests.fakes import THREADS_DIR_ENV


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(1, (1, 1, 1)), (2, (1, 1, 1)), (3, (1, 1, 1)), (7, (2, 2, 3)), (16, (5, 5, 6))],
)
def test_the_three_nodes_share_the_budget(budget: int, expected: tuple[int, int, int]) -> None:
    shares = tuple(node_threads(role, budget) for role in ("transmitter", "channel", "receiver"))
    assert shares == expected
    assert sum(shares) <= max(budget, 3)  # never more than the budget, or one thread each


def test_one_process_takes_the_whole_budget() -> None:
    assert node_threads("inproc", 6) == 6


def test_the_budget_defaults_to_the_cores_this_process_may_use() -> None:
    assert run_budget(None) == len(os.sched_getaffinity(0))
    assert run_budget(3) == 3


def test_a_node_takes_what_its_parent_handed_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "4")
    assert node_share("receiver", 100) == 4
    monkeypatch.delenv(THREADS_ENV)
    assert node_share("receiver", 7) == 3


def test_children_get_every_library_switch() -> None:
    assert thread_environment(2) == {
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
        THREADS_ENV: "2",
    }


def test_a_budget_below_one_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("codecs: [{name: jpeg, quality: 50}]\nthreads: 0\n")
    with pytest.raises(ScenarioError, match="threads") as error:
        load_scenario(path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("compute", "expected"), [(None, ["1 2", "1 3"]), pytest.param(2, ["2 2", "2 3"], marks=pytest.mark.slow)]
)
def test_the_nodes_of_a_run_use_their_share(compute: int | None, expected: list[str], tmp_path: Path) -> None:
    # ssm has the transmitter segment the source; the receiver segments the reconstruction
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "seed: 1\ndata: {source: synthetic, split: val, frames: 2, size: [64, 128]}\n"
        "codecs: [{name: ssm, map_scale: 4}]\nsegmenter: tests.fakes:thread_reporting_segmenter\n"
        f"device: cpu\nthreads: 7\n{f'compute_threads: {compute}' if compute else ''}\n"
    )
    notes = tmp_path / "threads"
    notes.mkdir()
    env = {**os.environ, THREADS_DIR_ENV: str(notes)}
    command = [sys.executable, "-m", "semlink.cli", "run", str(scenario), "--out", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    seen = sorted(note.read_text() for note in notes.iterdir() if int(note.name) != os.getpid())
    # torch's threads: compute_threads (default 1) in every node, so rows never depend on the
    # share; the BLAS/OpenMP share: transmitter 2 threads, receiver 3 (the parent segments nothing)
    assert seen == expected, seen
