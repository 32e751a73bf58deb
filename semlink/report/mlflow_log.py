"""MLflow tracking of runs (the optional extra ``semlink[tracking]``; ``tracking: {mlflow: URI}``
in a scenario, or ``semlink track OUT``).

Works offline by default: ``local`` is an SQLite store in the run's output folder
(``OUT/mlflow.db``, artefacts in ``OUT/mlartifacts``); any MLflow tracking URI (``http://host:5000``,
``sqlite:///path``) or a folder path can be given instead.

A run is logged after its ``results.csv`` and report are written, from those files: one MLflow
run per semlink run (its settings as parameters, its scenario, results, report and figures as
artefacts) and one nested run per point (its codec and axes as parameters, every metric, interval
and counter of its row as metrics). Logging the same results again (a resumed run with nothing
new) adds nothing. Written here, not a library: the mapping from a results file to MLflow's runs
is the project's own.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semlink.results.rows import axis_columns, metric_columns, number, read_results
from semlink.tracking import EXTRA, TrackingError

LOG = logging.getLogger(__name__)
LOCAL = "local"
"""The ``tracking.mlflow`` value for the run's own SQLite store in its output folder."""
RUN_PARAMS = ("channel", "channel_params", "seed", "repeats", "frames")
"""Columns of a results row that are a point's parameters besides the codec and its axes."""
RUN_FILES = ("scenario.yaml", "results.csv", "frames.jsonl", "report.md", "report.html")
HASH_TAG = "semlink.results_sha256"


@dataclass(frozen=True)
class MlflowTarget:
    """Where a run is logged: a tracking URI, the experiment, and (for a new experiment in the
    local store) where its artefacts go."""

    uri: str
    experiment: str
    artifacts: str | None = None


def mlflow_target(out: Path, uri: str, experiment: str) -> MlflowTarget:
    """The target of ``tracking: {mlflow: URI}``: ``local`` is ``OUT/mlflow.db`` with artefacts in
    ``OUT/mlartifacts``; a plain folder path is an SQLite file inside it."""
    if uri == LOCAL:
        folder = out.absolute()
        return MlflowTarget(f"sqlite:///{folder / 'mlflow.db'}", experiment, (folder / "mlartifacts").as_uri())
    if "://" not in uri and ":" not in uri.split("/")[0]:
        folder = Path(uri).expanduser().absolute()
        return MlflowTarget(f"sqlite:///{folder / 'mlflow.db'}", experiment, (folder / "mlartifacts").as_uri())
    return MlflowTarget(uri, experiment)


def log_run(out: Path, target: MlflowTarget) -> str:
    """Log the finished run in ``out`` (its ``results.csv``, report and scenario) to MLflow.

    :return: the MLflow run id of the semlink run (an earlier one if these results were logged
        before).
    :raises TrackingError: MLflow is missing, the store cannot be reached, or logging failed;
        ``results.csv`` and the report stay as they are.
    """
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise TrackingError(f"tracking.mlflow needs MLflow, which is not installed: {EXTRA}") from None
    header, rows = read_results(out)
    digest = hashlib.sha256((out / "results.csv").read_bytes()).hexdigest()
    quiet_mlflow()
    try:
        client = MlflowClient(tracking_uri=target.uri)
        experiment = client.get_experiment_by_name(target.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(target.experiment, artifact_location=target.artifacts)
        )
        earlier = client.search_runs([experiment_id], filter_string=f"tags.`{HASH_TAG}` = '{digest}'", max_results=1)
        if earlier:
            LOG.info("MLflow: these results are already logged as run %s", earlier[0].info.run_id)
            return str(earlier[0].info.run_id)
        return write_runs(client, experiment_id, out, header, rows, digest)
    except TrackingError:
        raise
    except Exception as error:  # MLflow raises many kinds (connection, store, schema): one line each
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrackingError(
            f"MLflow at {target.uri} failed: {first}; the results in {out} are kept "
            f"(log them again with `semlink track {out}`)"
        ) from None


def quiet_mlflow() -> None:
    """MLflow's own INFO lines (database migrations) go to the debug level of our log."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def write_runs(
    client: Any, experiment_id: str, out: Path, header: list[str], rows: list[dict[str, str]], digest: str
) -> str:
    """One parent run for the semlink run and a nested run per row; returns the parent's id."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    parent = client.create_run(
        experiment_id,
        run_name=out.absolute().name,
        tags={HASH_TAG: digest, "semlink.out": str(out.absolute()), "semlink.points": str(len(rows))},
    )
    parent_id = parent.info.run_id
    params = [Param("points", str(len(rows)))] + [Param(k, v) for k, v in run_settings(out).items()]
    client.log_batch(parent_id, params=params)
    for name in RUN_FILES:
        if (out / name).is_file():
            client.log_artifact(parent_id, str(out / name))
    for figure in sorted([*out.glob("*.png"), *out.glob("*.pdf")]):
        client.log_artifact(parent_id, str(figure), artifact_path="figures")
    axes = ["codec", *axis_columns(header), *RUN_PARAMS]
    measured = point_metrics(header)
    for number_, row in enumerate(rows):
        child = client.create_run(
            experiment_id,
            run_name=point_name(row, axis_columns(header)),
            tags={"mlflow.parentRunId": parent_id, "semlink.point_key": row.get("point_key", "")},
        )
        metrics = [Metric(k, v, now, 0) for k in measured if (v := number(row.get(k))) is not None]
        child_params = [Param(k, row[k][:6000]) for k in axes if row.get(k)]
        client.log_batch(child.info.run_id, metrics=metrics, params=child_params, tags=[RunTag("point", str(number_))])
        client.set_terminated(child.info.run_id)
    client.set_terminated(parent_id)
    LOG.info("MLflow: %d points logged as run %s (%s)", len(rows), parent_id, client.tracking_uri)
    return str(parent_id)


def point_metrics(header: Sequence[str]) -> list[str]:
    """The numeric columns of a row that MLflow gets as metrics: each metric with its interval,
    then the counters."""
    scored = [name for column in metric_columns(header) for name in (column, f"{column}_lo", f"{column}_hi")]
    counters = header[header.index("bpp") :] if "bpp" in header else []
    return [c for c in [*scored, *counters] if c in header and c not in ("point_key", "rejected_by")]


def point_name(row: dict[str, str], axes: Sequence[str]) -> str:
    """``jpeg target_bpp=0.1 loss=0.05``: the codec and the row's axis values."""
    return " ".join([row.get("codec", "?"), *(f"{a}={row[a]}" for a in axes if row.get(a))])[:250]


def run_settings(out: Path) -> dict[str, str]:
    """Top-level settings of the run's ``scenario.yaml`` (name, seed, repeats, transport, data, ...)
    as MLflow parameters; empty when the folder has no scenario copy."""
    import yaml

    path = out / "scenario.yaml"
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text()) or {}
    keys = ("name", "seed", "repeats", "transport", "device", "threads")
    settings = {k: str(raw[k]) for k in keys if raw.get(k) is not None}
    for k, v in (raw.get("data") or {}).items():
        if v is not None:
            settings[f"data.{k}"] = str(v)[:6000]
    return settings
