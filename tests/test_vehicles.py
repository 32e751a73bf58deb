"""Many vehicles in a scenario: the section, its axis and numbering, each vehicle's drive, the cell
they share end to end (in one process), the results' cell columns and ``vehicles.csv``, traces."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import semlink
from semlink.channel.cell.geometry import FcdTrace
from semlink.errors import ScenarioError
from semlink.scenario.loading import load_scenario
from semlink.scenario.precheck import precheck
from semlink.scenario.sweep import points
from semlink.study.study import Study
from semlink.study.trials import channel_seed, trial_of

BASE: dict[str, Any] = {
    "name": "vehicles",
    "seed": 4,
    "data": {"source": "synthetic", "split": "val", "frames": 3, "size": [64, 128]},
    "codecs": [{"name": "jpeg", "quality": 60}],
    "segmenter": "tests.fakes:brightness_segmenter",
    "metrics": ["miou", "delivery"],
    "device": "cpu",
    "transport": "inproc",
    "link": {"mtu": 600, "fps": 10, "deadline_ms": 100},
}


def scenario(tmp_path: Path, **changes: Any) -> Path:
    """BASE with ``changes`` as a YAML file (JSON is YAML)."""
    import json

    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({**BASE, **changes}))
    return path


def rows(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_without_vehicles_points_keys_and_numbering_are_a_single_link(tmp_path: Path) -> None:
    plain = load_scenario(scenario(tmp_path))
    assert plain.vehicles is None
    point = points(plain)[0]
    assert point.vehicles == 0 and '"vehicles"' not in point.key and '"road"' not in point.context
    study = Study.of_points(plain, "s")
    assert [t.index for t in study.trials()] == [0]
    assert trial_of(0, 1) == (0, 0, 0)


def test_a_count_list_is_an_axis_and_each_vehicle_has_its_own_number_and_stream(tmp_path: Path) -> None:
    spec = load_scenario(scenario(tmp_path, vehicles={"count": [1, 3]}, repeats=2))
    sweep = points(spec)
    assert [p.vehicles for p in sweep] == [1, 3]
    assert [p.axes["vehicles.count"] for p in sweep] == [1, 3]
    trials = Study.of_points(spec, "s").trials()
    indices = [t.index for t in trials]
    assert len(indices) == len(set(indices)) == 2 * (1 + 3)
    for trial in trials:
        assert trial_of(trial.index, 2, 3) == (trial.point.index, trial.repeat, trial.vehicle)
    for point in sweep:
        mine = [t for t in trials if t.point is point]
        assert len({channel_seed(spec, t) for t in mine}) == len(mine)
    one, three = ([channel_seed(spec, t) for t in trials if t.point is p and t.vehicle == 0] for p in sweep)
    assert one == three  # vehicle 0 meets the same channel whatever the count (common random numbers)
    first = next(t for t in trials if t.vehicle == 0 and t.repeat == 0)
    assert channel_seed(spec, first) == (4, 1, first.point.key_id, 0)  # vehicle 0 keeps the link's stream


def test_each_vehicle_drives_its_own_stretch_of_the_source(tmp_path: Path) -> None:
    study = Study.build(load_scenario(scenario(tmp_path, vehicles={"count": 2})), "s")
    point = study.points[0]
    own, other = study.sources.drive(point, 0), study.sources.drive(point, 1)
    assert own is study.sources.of(point)
    assert len(own) == len(other) == 3
    assert [other.frame(i).index for i in range(3)] == [0, 1, 2]
    assert not np.array_equal(own.frame(0).image, other.frame(0).image)
    np.testing.assert_array_equal(other.frame(0).image, own.source.frame(3).image)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"vehicles": {"count": 0}}, "vehicles.count 0 must be between 1 and"),
        ({"vehicles": {"count": [2, 2000]}}, "vehicles.count 2000 must be between 1 and"),
        ({"vehicles": {"count": []}}, "vehicles.count is an empty list"),
        ({"vehicles": {"mobility": "trace"}}, "mobility: trace needs trace"),
        ({"vehicles": {"mobility": "trace", "trace": "nowhere.xml", "rsu": [0, 0]}}, "is not a file"),
        ({"vehicles": {"count": 90, "spacing_m": 100, "lanes": 1}}, "more than length_m=2000"),
        ({"vehicles": {"cound": 3}}, "did you mean 'count'"),
        ({"channel": {"model": "cell"}}, "add a vehicles: section"),
        ({"vehicles": {"count": 2}, "channel": {"model": "cell", "scheduler": "round_robbin"}}, "round_robin"),
        ({"vehicles": {"count": 2}, "channel": {"model": "cell", "fading": "tdl"}}, "fading='tdl' must be one of"),
    ],
)
def test_bad_vehicle_settings_are_refused_in_one_line(tmp_path: Path, changes: dict[str, Any], words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        spec = load_scenario(scenario(tmp_path, **changes))
        precheck(spec, "s")
        Study.build(spec, "s")
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_a_trace_with_fewer_vehicles_than_asked_is_refused(tmp_path: Path) -> None:
    trace = write_fcd(tmp_path / "fcd.xml", vehicles=2)
    changes = {"vehicles": {"count": 3, "mobility": "trace", "trace": str(trace), "rsu": [0, -20]}}
    with pytest.raises(ScenarioError, match="more than the 2 vehicles of trace"):
        precheck(load_scenario(scenario(tmp_path, **changes)), "s")


def write_fcd(path: Path, vehicles: int, steps: int = 11) -> Path:
    """A SUMO FCD file: vehicle k at x = 10 k + 30 t, y = 3.5 k, every 0.1 s."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<fcd-export>"]
    for step in range(steps):
        time = step / 10
        lines.append(f'  <timestep time="{time:.2f}">')
        for k in range(vehicles):
            x, y = 10 * k + 30 * time, 3.5 * k
            lines.append(f'    <vehicle id="car{k}" x="{x:.2f}" y="{y:.2f}" angle="90" speed="30.00" lane="e_0"/>')
        lines.append("  </timestep>")
    lines.append("</fcd-export>")
    path.write_text("\n".join(lines))
    return path


def test_an_fcd_trace_is_read_back_into_the_same_positions(tmp_path: Path) -> None:
    trace = FcdTrace(str(write_fcd(tmp_path / "fcd.xml", vehicles=3)), (0.0, -20.0))
    times = np.array([0.0, 0.25, 0.5, 1.0])
    track = trace.track(3, times)
    expected_x = 10 * np.arange(3)[None, :] + 30 * times[:, None]
    np.testing.assert_allclose(track.xy[..., 0], expected_x, atol=1e-9)
    np.testing.assert_allclose(track.xy[..., 1], np.broadcast_to(3.5 * np.arange(3), (4, 3)))
    np.testing.assert_allclose(track.ground_m, np.hypot(expected_x, 3.5 * np.arange(3) + 20.0))
    np.testing.assert_allclose(track.speeds_kmh, 108.0)


def run(tmp_path: Path, name: str, **changes: Any) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Run BASE with ``changes`` in one process; its results and vehicles rows."""
    out = tmp_path / name
    semlink.run(scenario(tmp_path, **changes), out=out, report=False)
    vehicles = out / "vehicles.csv"
    return rows(out / "results.csv"), rows(vehicles) if vehicles.exists() else []


def test_one_vehicle_on_its_own_link_gives_the_single_link_row(tmp_path: Path) -> None:
    channel = {"model": "bernoulli", "loss": 0.2}
    link, _ = run(tmp_path, "link", channel=channel)
    one, cars = run(tmp_path, "one", channel=channel, vehicles={"count": 1})
    for column in ("miou", "miou_lo", "miou_hi", "frames_complete", "bpp", "bpp_wire", "packets_sent", "packets_lost"):
        assert one[0][column] == link[0][column], column
    assert cars[0]["miou"] == link[0]["miou"] and one[0]["miou_mean"] == link[0]["miou"]


def test_far_below_capacity_each_vehicle_scores_as_on_its_own(tmp_path: Path) -> None:
    cell = {"model": "cell", "scheduler": "round_robin", "bandwidth_mhz": 20, "fading": "none"}
    results, cars = run(tmp_path, "cell", channel=cell, vehicles={"count": [1, 4]})
    alone = {r["vehicle"]: r for r in cars if r["vehicles.count"] == "1"}
    shared = {r["vehicle"]: r for r in cars if r["vehicles.count"] == "4"}
    assert len(shared) == 4
    assert shared["0"]["miou"] == alone["0"]["miou"]
    for row in shared.values():
        assert row["frames_in_time"] == "3.00" and row["packets_lost"] == "0.00"
    big = next(r for r in results if r["vehicles.count"] == "4")
    assert float(big["in_time"]) == 1.0 and float(big["utilisation"]) < 0.5
    assert float(big["jain"]) > 0.0 and float(big["miou_p5"]) <= float(big["miou_mean"])


def test_at_overload_the_carrier_fills_and_frames_miss_their_deadline(tmp_path: Path) -> None:
    cell = {"model": "cell", "scheduler": "round_robin", "bandwidth_mhz": 5, "prbs": 1, "fading": "none"}
    changes = {"codecs": [{"name": "jpeg", "quality": 95}], "data": {**BASE["data"], "size": [128, 256]}}
    results, cars = run(tmp_path, "over", channel=cell, vehicles={"count": 6}, **changes)
    row = results[0]
    assert float(row["utilisation"]) > 0.95
    assert float(row["in_time"]) < 1.0
    assert sum(float(r["packets_lost"]) for r in cars) > 0
    shares = [float(r["airtime_share"]) for r in cars]
    assert abs(sum(shares) - 1.0) < 1e-3


def test_the_capacity_is_the_largest_count_whose_fifth_percentile_vehicle_holds(tmp_path: Path) -> None:
    from semlink.report.capacity import capacity_markdown, capacity_rows

    cell, clean = tmp_path / "cell", tmp_path / "clean"
    cell.mkdir()
    clean.mkdir()
    header = "codec,vehicles.count,scheduler,target_bpp,miou_p5,miou_p5_lo\n"
    body = "".join(
        f"jpeg,{count},{scheduler},0.1,{p5},{p5 - 0.05}\n"
        for scheduler, values in (("round_robin", (0.5, 0.5, 0.3)), ("semantic", (0.5, 0.48, 0.47)))
        for count, p5 in zip((1, 2, 4), values, strict=True)
    )
    (cell / "results.csv").write_text(header + body)
    vehicles = "codec,target_bpp,vehicle,miou\n" + "".join(
        f"{codec},{bpp},{k},{score}\n"
        for codec, bpp, score in (("jpeg", 0.1, 0.5), ("identity", "", 0.6))
        for k in range(4)
    )
    (clean / "vehicles.csv").write_text(vehicles)
    rows = {row.cell: row for row in capacity_rows(cell, clean)}
    assert (rows["scheduler round_robin"].of_codec, rows["scheduler semantic"].of_codec) == (2, 4)
    assert rows["scheduler semantic"].of_codec_sure == 1  # 0.43 < 0.9 x 0.5 from two vehicles on
    assert rows["scheduler semantic"].of_image == 0  # 0.5 < 0.9 x 0.6
    assert "| jpeg, target 0.1 bpp | scheduler semantic | 4+ (1) | 0 |" in capacity_markdown(list(rows.values()))
    with pytest.raises(ValueError, match="no identity rows"):
        (clean / "vehicles.csv").write_text(vehicles.replace("identity", "webp"))
        capacity_rows(cell, clean)


def test_a_run_on_an_fcd_trace_places_each_vehicle_where_the_trace_has_it(tmp_path: Path) -> None:
    trace = write_fcd(tmp_path / "fcd.xml", vehicles=2, steps=40)
    vehicles = {"count": 2, "mobility": "trace", "trace": str(trace), "rsu": [0, -20]}
    cell = {"model": "cell", "bandwidth_mhz": 20, "fading": "none"}
    _, cars = run(tmp_path, "trace", channel=cell, vehicles=vehicles)
    for car in cars:
        k = int(car["vehicle"])
        assert abs(float(car["y_m"]) - 3.5 * k) < 1e-6  # the trace's lane, as written
        assert 10 * k < float(car["x_m"]) < 10 * k + 30 * 1.0  # on the trace's path, within its first second
        assert float(car["frames_in_time"]) == 3.0
