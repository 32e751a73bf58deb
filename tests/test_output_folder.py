"""One writer per output folder (an advisory lock naming its holder, taken over from a dead one),
one study per folder (a rerun with other non-axis settings is refused), and a folder that cannot
be written refused in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from semlink.cli import main
from semlink.executors.runner import Run
from semlink.results.folder import LOCK_FILE, FolderError, check_same_study, hold_folder
from semlink.scenario.loading import validate

TINY: dict[str, Any] = {
    "name": "folder",
    "seed": 3,
    "data": {"source": "synthetic", "split": "val", "frames": 1, "size": [32, 64]},
    "codecs": [{"name": "jpeg", "quality": [30, 60]}],
    "channel": {"model": "bernoulli", "loss": [0.0, 0.2]},
    "metrics": ["psnr", "delivery"],
    "transport": "inproc",
    "cache": False,
}

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from semlink.results.folder import hold_folder
    with hold_folder(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.read()
    """
)


def write_scenario(folder: Path, **changes: Any) -> Path:
    import yaml

    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return path


def start_holder(out: Path) -> subprocess.Popen[str]:
    """Another process holding ``out``'s lock until its stdin closes."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_second_run_into_a_held_folder_is_refused_in_one_line_naming_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    holder = start_holder(out)
    try:
        code = main(["run", str(write_scenario(tmp_path)), "--out", str(out), "--no-report"])
        error = capsys.readouterr().err.strip()
        assert code == 1 and len(error.splitlines()) == 1
        assert f"output folder {out} is in use by another run (pid {holder.pid} on host" in error
        assert "give another --out" in error
        assert not (out / "results.csv").exists()
        with pytest.raises(FolderError, match=f"pid {holder.pid}"):  # the Python API's run is refused alike
            Run(validate(dict(TINY), "(dict)"), "(dict)", out).execute()
    finally:
        holder.communicate("", timeout=30)


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = start_holder(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == holder.pid  # its record is left behind
    with hold_folder(out):
        assert json.loads((out / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_the_lock_is_reentrant_within_a_process_and_released_after(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with hold_folder(out), hold_folder(out):
        pass
    holder = start_holder(out)  # released: another process takes it
    holder.communicate("", timeout=30)


def test_a_rerun_with_other_frames_is_refused_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    path = write_scenario(tmp_path)
    assert main(["run", str(path), "--out", str(out), "--no-report", "--points", "0", "-q"]) == 0
    before = (out / "results.csv").read_bytes()
    capsys.readouterr()
    assert main(["run", str(path), "--out", str(out), "--no-report", "--frames", "2"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "holds rows made with data.frames 1, this run has 2" in error and "give a new --out" in error
    assert (out / "results.csv").read_bytes() == before
    assert main(["run", str(path), "--out", str(out), "--no-report", "--points", "1", "-q"]) == 0  # same study: fine


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"seed": 4}, "seed"),
        ({"data": {**TINY["data"], "split": "train"}}, "data.split"),
        ({"data": {**TINY["data"], "size": [64, 64]}}, "data.size"),
        ({"segmenter": "shipped"}, "segmenter"),
        ({"metrics": ["psnr"]}, "metrics"),
        ({"repeats": 2}, "repeats"),
    ],
)
def test_every_non_axis_setting_is_compared(tmp_path: Path, changes: dict[str, Any], setting: str) -> None:
    import yaml

    old = validate(dict(TINY), "(dict)")
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(old.model_dump(mode="json", by_alias=True)))
    (tmp_path / "results.csv").write_text("codec,point_key\r\n")
    check_same_study(tmp_path, old)  # the same study
    check_same_study(tmp_path, validate({**TINY, "channel": {"model": "bernoulli", "loss": [0.5]}}, "(dict)"))
    with pytest.raises(FolderError, match=f"made with {setting} "):
        check_same_study(tmp_path, validate({**TINY, **changes}, "(dict)"))


def test_a_folder_without_rows_takes_any_study(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump({"seed": 1, "data": {"frames": 9}}))
    check_same_study(tmp_path, validate(dict(TINY), "(dict)"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code = main(["run", str(write_scenario(tmp_path)), "--out", str(locked / "out"), "--no-report"])
    finally:
        locked.chmod(0o755)
    error = capsys.readouterr().err.strip()
    assert code == 1 and len(error.splitlines()) == 1
    assert f"cannot write into output folder {locked / 'out'}" in error and "--out you may write to" in error


def test_a_denied_out_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def denied(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith(LOCK_FILE):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    out = tmp_path / "out"
    assert main(["run", str(write_scenario(tmp_path)), "--out", str(out), "--no-report"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == (
        f"semlink: error: cannot write into output folder {out} (Permission denied); give an --out you may write to"
    )


def test_any_other_permission_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from semlink.cli.common import one_line

    error = PermissionError(13, "Permission denied", str(tmp_path / "results.csv"))
    assert one_line(error).startswith(f"permission denied on {tmp_path / 'results.csv'}; give a path you may write to")


def test_points_outside_the_sweep_are_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(write_scenario(tmp_path)), "--out", str(out), "--points", "1,99,-1"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == ("semlink: error: --points -1,99: out of range, the sweep has 4 points; give indices from 0 to 3")
    assert not (out / "results.csv").exists()
