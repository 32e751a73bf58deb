"""The radio inside the link: airtime makes packets late, deadlines drop them, results report the radio."""

from __future__ import annotations

from pathlib import Path

import pytest

from semlink.results.writer import counter_columns
from semlink.scenario.loading import load_scenario
from semlink.scenario.schema import ScenarioError
from semlink.study.components import check_points
from tests.test_stages import SCENARIO, build, run


def test_a_slow_radio_misses_deadlines_and_reports_it(tmp_path: Path) -> None:
    # One resource block at 30 kHz carries ~340 kbit/s at MCS 4: a raw 64x128 frame (197 kbit) takes ~0.6 s.
    _, tx, ch, rx, reports = build(tmp_path, "{model: phy, snr_db: 30.0, mcs: 4, prbs: 1}")
    run(tx, ch, rx)
    report = reports[0]
    assert report.counters["late"] > 0
    columns = counter_columns([report], 64 * 128)
    assert int(columns["deadline_misses"]) == report.counters["late"]
    assert float(columns["airtime_ms"]) > 500.0  # per frame
    assert float(columns["mcs"]) == 4.0 and float(columns["harq_tx_mean"]) == 1.0
    assert any(f.concealed for f in report.frames)


def test_a_fast_radio_meets_them(tmp_path: Path) -> None:
    _, tx, ch, rx, reports = build(tmp_path, "{model: phy, snr_db: 30.0, mcs: 4, bandwidth_mhz: 100}")
    run(tx, ch, rx)
    report = reports[0]
    assert report.counters["late"] == 0 and not any(f.concealed for f in report.frames)
    latencies = [f.latency_ms for f in report.frames if f.latency_ms is not None]
    assert latencies and all(0.0 < latency < 100.0 for latency in latencies)  # airtime makes latency real


def test_packet_level_models_leave_the_radio_columns_empty(tmp_path: Path) -> None:
    _, tx, ch, rx, reports = build(tmp_path, "{model: bernoulli, loss: 0.0}")
    run(tx, ch, rx)
    columns = counter_columns([reports[0]], 64 * 128)
    assert {k: columns[k] for k in ("mcs", "harq_tx_mean", "airtime_ms", "deadline_misses")} == {
        "mcs": "",
        "harq_tx_mean": "",
        "airtime_ms": "",
        "deadline_misses": "0",
    }


@pytest.mark.parametrize(
    ("channel", "message"),
    [("{model: phy, mcs: 40}", "mcs=40"), ("{model: awgn, snr: 3}", "has no setting 'snr'")],
)
def test_bad_radio_settings_in_a_scenario_are_one_line(tmp_path: Path, channel: str, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(channel=channel, codec="identity", knob=""))
    with pytest.raises(ScenarioError, match=message) as error:
        check_points(load_scenario(path), str(path))
    assert "\n" not in str(error.value)
