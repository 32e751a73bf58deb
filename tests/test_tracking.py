"""Experiment tracking with local stores: MLflow for runs, TensorBoard for training legs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from semlink.cli import main
from semlink.data.subset import Subset
from semlink.data.synthetic import SyntheticDriving
from semlink.report.mlflow_log import HASH_TAG, log_run, mlflow_target
from semlink.tracking import TensorBoardTracker, TrackingError, tensorboard_logger
from semlink.training import EvalSets
from semlink.vision.train import TrainSettings, train_segmenter

mlflow = pytest.importorskip("mlflow", reason="the tracking extra is part of semlink[test]")

SMALL = {
    "name": "tracked",
    "seed": 2,
    "data": {"source": "synthetic", "split": "val", "frames": 2, "size": [64, 128]},
    "codecs": [{"name": "jpeg", "quality": [20, 60]}],
    "channel": {"model": "bernoulli", "loss": [0.0, 0.2]},
    "repeats": 2,
    "metrics": ["psnr", "delivery"],
    "tracking": {"mlflow": "local"},
}


def runs_of(uri: str, experiment: str) -> list[mlflow.entities.Run]:
    client = mlflow.tracking.MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} at {uri}"
    return list(client.search_runs([found.experiment_id], max_results=1000))


def test_a_run_with_tracking_logs_one_run_with_a_nested_run_per_point(tmp_path: Path) -> None:
    import semlink

    out = tmp_path / "r"
    result = semlink.run(SMALL, out=out, transport="inproc")
    uri = f"sqlite:///{out.absolute() / 'mlflow.db'}"
    runs = runs_of(uri, "tracked")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and len(children) == len(result.rows) == 4
    with (out / "results.csv").open() as handle:
        rows = {row["point_key"]: row for row in csv.DictReader(handle)}
    for child in children:
        row = rows[child.data.tags["semlink.point_key"]]
        assert child.data.params["codec"] == "jpeg"
        assert child.data.params["quality"] == row["quality"] and child.data.params["loss"] == row["loss"]
        assert child.data.metrics["psnr"] == pytest.approx(float(row["psnr"]))
        assert child.data.metrics["psnr_lo"] == pytest.approx(float(row["psnr_lo"]))
        assert child.data.metrics["bpp"] == pytest.approx(float(row["bpp"]))
    parent = parents[0]
    assert parent.data.params["seed"] == "2" and parent.data.params["points"] == "4"
    artefacts = {f.path for f in mlflow.tracking.MlflowClient(uri).list_artifacts(parent.info.run_id)}
    assert {"results.csv", "scenario.yaml", "report.md", "report.html", "figures"} <= artefacts
    assert (out / "mlartifacts").is_dir()


def test_logging_the_same_results_again_adds_nothing(tmp_path: Path) -> None:
    import semlink

    out = tmp_path / "r"
    semlink.run({**SMALL, "channel": {"model": "ideal"}}, out=out, transport="inproc")
    target = mlflow_target(out, "local", "tracked")
    first = runs_of(target.uri, "tracked")
    again = log_run(out, target)
    assert len(runs_of(target.uri, "tracked")) == len(first) == 1 + 2
    assert again in {r.info.run_id for r in first if HASH_TAG in r.data.tags}


def test_semlink_track_logs_a_finished_folder_to_a_store_of_its_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import semlink

    out = tmp_path / "r"
    semlink.run({k: v for k, v in SMALL.items() if k != "tracking"}, out=out, transport="inproc", report=False)
    store = tmp_path / "store"
    assert main(["track", str(out), "--mlflow", str(store), "--experiment", "mine"]) == 0
    assert "MLflow: run" in capsys.readouterr().out
    runs = runs_of(f"sqlite:///{store.absolute() / 'mlflow.db'}", "mine")
    assert len(runs) == 1 + 4


def test_tracking_failures_and_missing_folders_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["track", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "has no results.csv" in error and error.count("\n") == 1
    (tmp_path / "results.csv").write_text("codec,frames,bpp\njpeg,2,0.1\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TrackingError, match=r"MLflow at .* failed: .*results in .* are kept") as failure:
        log_run(tmp_path, mlflow_target(tmp_path, f"sqlite:///{blocker}/sub/mlflow.db", "x"))
    assert "\n" not in str(failure.value)


def test_a_scenario_asking_for_mlflow_without_it_is_refused_before_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from semlink.scenario.precheck import precheck
    from semlink.scenario.schema import Scenario, ScenarioError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ScenarioError, match=r"tracking\.mlflow needs MLflow.*semlink\[tracking\]"):
        precheck(Scenario.model_validate(SMALL), "small.yaml")


def test_mlflow_targets() -> None:
    out = Path("/tmp/run")
    assert mlflow_target(out, "local", "e").uri == "sqlite:////tmp/run/mlflow.db"
    assert mlflow_target(out, "local", "e").artifacts == "file:///tmp/run/mlartifacts"
    assert mlflow_target(out, "/data/store", "e").uri == "sqlite:////data/store/mlflow.db"
    assert mlflow_target(out, "http://host:5000", "e") == mlflow_target(out, "http://host:5000", "e")
    assert mlflow_target(out, "http://host:5000", "e").uri == "http://host:5000"


def test_a_training_leg_writes_losses_scores_and_images_for_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train = SyntheticDriving("train", size=(48, 96))
    sets = EvalSets(Subset(SyntheticDriving("train", size=(48, 96), seed=7), 3), Subset(train, 3), "tiny")
    settings = TrainSettings(epochs=2, crop=(32, 64), batch=4, lr=1e-2, seed=1, widths=(8, 8, 16), decoder=8)
    tracker = TensorBoardTracker(tensorboard_logger(tmp_path / "tb", "seg"), every=2)
    train_segmenter(Subset(train, 20), sets, settings, tmp_path / "seg.pt", "test", tracker=tracker)
    events = EventAccumulator(str(tmp_path / "tb" / "seg"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/loss", "train/lr", "scores/val mIoU", "scores/held-out mIoU"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4, 6, 8, 10]
    assert events.Scalars("scores/val mIoU")[0].step == 10
    (image,) = events.Images("val/frame | labels | segmentation")
    assert (image.width, image.height) == (3 * 96, 3 * 48)


def test_cli_tensorboard_without_the_extra_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name: str, *args: object, **kwargs: object) -> object:
        if name == "tensorboard":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(TrackingError, match=r"--tensorboard needs TensorBoard.*semlink\[tracking\]"):
        tensorboard_logger(tmp_path, "x")
