"""``--executor ray`` on a local Ray instance (2 CPUs, no dashboard): a unit as a Ray task gives
the rows a local run gives; the whole run (slow) writes the files a sequential run writes."""

from __future__ import annotations

import builtins
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from semlink.executors.ray import RayMissingError, connect, run_unit
from semlink.scenario.loading import load_scenario
from semlink.study.study import Study

ray = pytest.importorskip("ray", reason="Ray is part of semlink[test]")

TINY: dict[str, Any] = {
    "name": "ray",
    "seed": 4,
    "data": {"source": "synthetic", "split": "val", "frames": 1, "size": [32, 64]},
    "codecs": [{"name": "jpeg", "quality": [20, 60]}],
    "channel": {"model": "bernoulli", "loss": 0.2},
    "metrics": ["psnr", "delivery"],
    "transport": "inproc",
}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """A local Ray of 2 CPUs for this module, shut down after."""
    module = connect(None, 2)
    yield module
    module.shutdown()


def test_a_unit_as_a_ray_task_gives_the_rows_of_a_local_run(local_ray: Any, tmp_path: Path) -> None:
    import semlink

    local = semlink.run(TINY, out=tmp_path / "local", report=False)
    study = Study.build(load_scenario(tmp_path / "local" / "scenario.yaml"), "scenario.yaml", check=False)
    files = local_ray.get(local_ray.remote(num_cpus=1)(run_unit).remote(study.to_json(), [1], 1))
    written = list(csv.DictReader(io.StringIO((tmp_path / "local" / "results.csv").read_text())))
    rows = list(csv.DictReader(io.StringIO(files["results.csv"])))
    assert [row["point_key"] for row in rows] == [local.rows[1]["point_key"]]
    assert rows[0] == written[1]
    assert '"point": 1' in files["frames.jsonl"] and "stages" in files["work.json"]


def test_a_unit_uses_a_cache_of_its_own_where_the_runs_folder_is_not_there(tmp_path: Path) -> None:
    from semlink.executors.ray import worker_cache

    assert worker_cache({"cache": str(tmp_path)}) == str(tmp_path)
    assert str(worker_cache({"cache": "/no/such/shared/folder"})).endswith("semlink-worker-cache")
    assert worker_cache({"cache": False}) is False


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_ray(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "ray":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(RayMissingError, match=r"--executor ray needs Ray.*semlink\[ray\]"):
        connect(None, 2)


@pytest.mark.slow
def test_a_ray_run_writes_the_files_of_a_sequential_run(local_ray: Any, tmp_path: Path) -> None:
    import semlink

    scenario = {**TINY, "channel": {"model": "bernoulli", "loss": [0.0, 0.2]}, "repeats": 2}
    semlink.run(scenario, out=tmp_path / "one", report=False)
    result = semlink.run(scenario, out=tmp_path / "ray", report=False, executor="ray", workers=2)
    assert result.ran == 4
    for name in ("results.csv", "frames.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert yaml.safe_load((tmp_path / "ray" / "scenario.yaml").read_text())["cache"] == str(tmp_path / "ray" / "cache")
