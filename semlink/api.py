"""The Python API: run a scenario or a codec-only evaluation from code and get its records.

::

    import semlink

    scenario = semlink.Scenario.from_yaml("scenarios/quickstart.yaml")
    result = semlink.run(scenario, out="results/mine", transport="inproc")
    for row in result.rows:
        print(row["codec"], row["bpp"], row["miou"], row["miou_lo"], row["miou_hi"])
    frame = result.to_pandas()  # pip install "semlink[pandas]"

A run through the API is the run ``semlink run`` makes: the same points, keys, ``results.csv``,
``frames.jsonl`` and report; a rerun into the same folder skips the points already there. Rows
hold numbers as numbers (:mod:`semlink.results.typed`). Neither function prints: progress goes to
``console`` (stderr by default), results to the returned :class:`RunResult`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console

from semlink.results.typed import TypedRow, typed_rows
from semlink.scenario.schema import Scenario, ScenarioError

if TYPE_CHECKING:
    import pandas

Transport = Literal["inproc", "zmq"]


@dataclass(frozen=True)
class RunResult:
    """The records of a run.

    :param out: the output folder.
    :param rows: ``results.csv``, one dict per point, in its column order: floats for metrics,
        their intervals and numeric axes, ints for counts (``seed``, ``repeats``, ``frames``,
        ``packets_sent``, ...), text for ``codec``, ``channel``, ``channel_params``, ``point_key``
        and other text; ``None`` for an empty cell (see :mod:`semlink.results.typed`).
    :param ran: points run by this call (0 if every point was already in ``out``).
    """

    out: Path
    rows: list[TypedRow]
    ran: int

    @property
    def results_csv(self) -> Path:
        """The ``results.csv`` of the run."""
        return self.out / "results.csv"

    @property
    def frames_jsonl(self) -> Path:
        """The per-frame, per-repeat values (``frames.jsonl``)."""
        return self.out / "frames.jsonl"

    def frames(self) -> list[dict[str, Any]]:
        """The records of ``frames.jsonl``: one per frame and realisation, every metric's frame value."""
        if not self.frames_jsonl.exists():
            return []
        with self.frames_jsonl.open() as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def to_pandas(self) -> pandas.DataFrame:
        """:attr:`rows` as a pandas DataFrame (a row per point, ``results.csv``'s columns; empty
        cells as NaN or None).

        :raises ImportError: one line with the command that installs pandas, if it is not installed.
        """
        try:
            import pandas
        except ImportError:
            raise ImportError(PANDAS_MISSING) from None
        columns = list(self.rows[0]) if self.rows else None
        return pandas.DataFrame(self.rows, columns=columns)


PANDAS_MISSING = "RunResult.to_pandas needs pandas, which is not installed: pip install 'semlink[pandas]'"


def run(
    scenario: Scenario | Mapping[str, Any] | str | Path,
    out: str | Path | None = None,
    transport: Transport | None = None,
    report: bool = True,
    console: Console | None = None,
    workers: int = 1,
    executor: Literal["local", "ray"] = "local",
    address: str | None = None,
) -> RunResult:
    """Run every pending point of a scenario and return its records.

    :param scenario: a :class:`Scenario`, a dict as in a scenario file, or the file's path.
    :param out: output folder (default: the scenario's ``out``, else ``results/<name>``).
    :param transport: ``inproc`` (the three stages in this process) or ``zmq`` (three processes
        over ZeroMQ); default: the scenario's.
    :param report: also write the report (``report.md`` and plots).
    :param console: where progress goes (default: stderr).
    :param workers: pipelines running independent points at once (``semlink run --workers``).
    :param executor: ``local`` or ``ray`` (``semlink run --executor``); ``address``: the Ray cluster
        (``auto``, ``HOST:PORT``; None starts a local instance of ``workers`` CPUs).
    :raises ScenarioError: for a scenario that does not validate (one line, naming the field).
    """
    from semlink.scenario.loading import validate
    from semlink.scenario.precheck import precheck

    resolved, origin = as_scenario(scenario)
    precheck(resolved, origin)
    from semlink.executors.runner import Run
    from semlink.report.document import write_report
    from semlink.results.folder import hold_folder

    if transport is not None:
        resolved = validate({**resolved.model_dump(by_alias=True), "transport": transport}, origin)
    folder = Path(out) if out is not None else Path(resolved.out or Path("results") / resolved.name)
    with hold_folder(folder):  # one writer from the first row to the last figure
        ran = Run(resolved, origin, folder, console, workers=workers, executor=executor, address=address).execute()
        if report:
            write_report(folder)
        if resolved.tracking.mlflow is not None:
            from semlink.report.mlflow_log import log_run, mlflow_target

            experiment = resolved.tracking.experiment or resolved.name
            log_run(folder, mlflow_target(folder, resolved.tracking.mlflow, experiment))
    return RunResult(folder, typed_rows(read_rows(folder / "results.csv")), ran)


def evaluate(
    codecs: Sequence[Mapping[str, Any]],
    out: str | Path,
    data: Mapping[str, Any] | None = None,
    segmenter: str | None = None,
    metrics: Sequence[str | Mapping[str, Any]] | None = None,
    device: str = "auto",
    seed: int = 0,
    console: Console | None = None,
) -> RunResult:
    """Codec-only evaluation (an ideal channel, no deadline), as ``semlink eval`` runs it, without
    its table: the rows come back in a :class:`RunResult`, as from :func:`run`.

    :param codecs: codec entries as in a scenario (``{"name": "jpeg", "target_bpp": [0.1, 0.2]}``).
    :param out: output folder (``results.csv``, ``frames.jsonl``, the report).
    :param data: the ``data:`` section (default: 20 synthetic val frames).
    :param segmenter: as in a scenario (default: the shipped one).
    :param metrics: as in a scenario (default: the standard set).
    :param console: where progress goes (default: stderr).
    """
    from semlink.executors.evaluate import evaluate as run_evaluation
    from semlink.executors.evaluate import evaluation_scenario

    frames = dict(data) if data is not None else {"source": "synthetic", "split": "val", "frames": 20}
    scenario = evaluation_scenario(frames, codecs, segmenter, device, metrics, seed)
    folder = Path(out)
    ran = run_evaluation(scenario, folder, console)
    return RunResult(folder, typed_rows(read_rows(folder / "results.csv")), ran)


def as_scenario(scenario: Scenario | Mapping[str, Any] | str | Path) -> tuple[Scenario, str]:
    """A validated scenario and where it came from (for messages)."""
    from semlink.scenario.loading import validate

    if isinstance(scenario, Scenario):
        return scenario, f"(scenario {scenario.name})"
    if isinstance(scenario, str | Path):
        return Scenario.from_yaml(scenario), str(scenario)
    if isinstance(scenario, Mapping):
        return validate(dict(scenario), "(dict)"), "(dict)"
    raise ScenarioError(f"semlink.run takes a Scenario, a dict or a path, not {type(scenario).__name__}")


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a ``results.csv`` (empty if there is none)."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))
