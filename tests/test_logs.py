"""Logging and progress: plain timestamped lines off a terminal, -q/-v levels, a log file, every node's milestones."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from semlink.logs import LOGGER, PlainLines, child_flags, configure_logging, duration, progress_display

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    configure_logging(0, stream=io.StringIO())


def test_plain_lines_report_counts_rate_eta_and_the_time_taken() -> None:
    stream = io.StringIO()
    configure_logging(0, stream=stream)
    with PlainLines({"points": 2, "frames": 8}, "run", every_s=0.05) as lines:
        lines.advance("frames", 4)
        lines.advance("points")
        time.sleep(0.3)
        lines.advance("frames", 4)
        lines.advance("points")
    text = stream.getvalue().splitlines()
    assert len(text) >= 3
    assert all(re.match(STAMP + "run points", line) for line in text), text
    assert re.search(r"points 1/2 · frames 4/8 · [\d.]+ frames/s · ETA \d+ s", text[0]), text
    assert re.search(r"points 2/2 · frames 8/8 · [\d.]+ frames/s · took \d+ s$", text[-1]), text


def test_plain_lines_carry_a_note_such_as_the_cache_hit_rate() -> None:
    stream = io.StringIO()
    configure_logging(0, stream=stream)
    with PlainLines({"points": 1, "frames": 2}, "run", every_s=60) as lines:
        lines.advance("frames", 2)
        lines.advance("points")
        lines.note("cache 75 % hits")
    assert re.search(r"frames 2/2 · \S+ frames/s · cache 75 % hits · took \d+ s$", stream.getvalue()), stream.getvalue()


def test_no_final_line_after_an_error() -> None:
    stream = io.StringIO()
    configure_logging(0, stream=stream)
    with pytest.raises(RuntimeError), PlainLines({"frames": 3}, "run", every_s=60):
        raise RuntimeError("boom")
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("verbosity", "shown"), [(-1, ["warn"]), (0, ["info", "warn"]), (1, ["debug", "info", "warn"])]
)
def test_quiet_and_verbose_set_what_reaches_stderr(verbosity: int, shown: list[str], tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging(verbosity, tmp_path / "logs" / "all.log", stream=stream, timestamps=False)
    log = logging.getLogger("semlink.some.module")
    log.debug("debug")
    log.info("info")
    log.warning("warn")
    assert stream.getvalue().split() == shown
    kept = (tmp_path / "logs" / "all.log").read_text().splitlines()  # the file keeps everything
    assert [line.split()[-1] for line in kept] == ["debug", "info", "warn"]
    assert re.match(STAMP + r"DEBUG   semlink.some.module: debug", kept[0]), kept


def test_a_log_file_that_cannot_be_opened_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match=r"--log-file .*cannot open it"):
        configure_logging(0, blocker / "run.log", stream=io.StringIO())


def test_off_a_terminal_or_quiet_progress_is_plain_lines() -> None:
    configure_logging(0, stream=io.StringIO())
    from rich.console import Console

    assert isinstance(progress_display({"frames": 1}, "run", Console(file=io.StringIO())), PlainLines)
    configure_logging(-1, stream=io.StringIO())
    assert isinstance(progress_display({"frames": 1}, "run", Console(file=io.StringIO(), force_terminal=True)),
                      PlainLines)  # fmt: skip
    assert not LOGGER.isEnabledFor(logging.INFO)  # and its lines are not shown


def test_children_inherit_the_verbosity_and_the_interval() -> None:
    from semlink.logs import set_progress_every

    configure_logging(-1, stream=io.StringIO())
    set_progress_every(7)
    try:
        assert child_flags() == ["-q", "--progress-every", "7"]
        configure_logging(2, stream=io.StringIO())
        assert child_flags()[:2] == ["-v", "-v"]
    finally:
        set_progress_every(30)


@pytest.mark.parametrize(("seconds", "text"), [(4.2, "4 s"), (185, "3 min 5 s"), (7620, "2 h 07 min")])
def test_durations_read_easily(seconds: float, text: str) -> None:
    assert duration(seconds) == text


SCENARIO = """
name: logged
seed: 3
data: {source: synthetic, split: val, frames: 2, size: [64, 128]}
codecs: [{name: jpeg, quality: [30, 60]}]
channel: {model: bernoulli, loss: 0.1}
segmenter: tests.fakes:brightness_segmenter
device: cpu
"""


@pytest.mark.net
def test_a_run_into_a_pipe_logs_progress_and_every_node_its_milestones(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "semlink.cli", "run", str(path), "--out", str(out), "--progress-every", "0.5",
               "--log-file", str(tmp_path / "run.log")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(re.match(STAMP + "run points", line) for line in lines), lines
    assert "run points 2/2 · frames 4/4" in lines[-1] and "took" in lines[-1]
    assert "run points 2/2" in (tmp_path / "run.log").read_text()
    logs = {role: (out / "logs" / f"{role}.log").read_text() for role in ("transmitter", "channel", "receiver")}
    assert "transmitter started: pid" in logs["transmitter"] and "point 1 sent: 2 frames" in logs["transmitter"]
    assert "channel started: pid" in logs["channel"] and "point 1 relayed:" in logs["channel"]
    assert "the transmitter (bound ipc://" in logs["channel"] and ": connected" in logs["channel"]
    assert "receiver started: pid" in logs["receiver"] and "point 1 scored: 2 frames" in logs["receiver"]
    for role, text in logs.items():
        assert all(re.match(STAMP, line) or line.startswith("counters:") for line in text.splitlines()), (role, text)
        assert "stages" in (out / "logs" / f"{role}.work.json").read_text(), role  # the node's work, for the summary


@pytest.mark.net
@pytest.mark.slow
def test_quiet_runs_print_nothing_but_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    command = [sys.executable, "-m", "semlink.cli", "run", str(path), "--out", str(tmp_path / "out"), "-q",
               "--transport", "inproc"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith("2 points in ")
