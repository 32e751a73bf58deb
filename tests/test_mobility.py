"""Where vehicles drive and who receives them: ``mobility: sumo`` (SUMO run here, the same positions
as its FCD output read back as a trace), a TR 38.901 base station as the receiver, TR 37.885's
highway pathloss for the RSU, and their one-line refusals before anything loads."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semlink.channel.cell.budget import LinkBudget
from semlink.channel.cell.geometry import RSU, FcdTrace, road_track, snr_table
from semlink.channel.cell.receiver import SITES, Receiver, los_probability, pathloss_db
from semlink.channel.cell.road import Road
from semlink.channel.cell.sumo import SumoDrive
from semlink.channel.phy.numerology import Numerology
from semlink.errors import ScenarioError
from semlink.scenario.loading import load_scenario
from semlink.scenario.precheck import precheck
from semlink.scenario.sweep import points
from semlink.scenario.vehicles import SITE_HEIGHTS_M, SITE_ISD_M, VehiclesSpec
from tests.test_vehicles import run, scenario, write_fcd

SPEED_M_S = 25.0
"""The test highway's vehicles drive at 90 km/h."""
NEEDS_SUMO = "SUMO is not installed (pip install 'semlink[sumo]')"


def refusal(tmp_path: Path, **changes: Any) -> str:
    """The one-line message that loading and prechecking the scenario with ``changes`` refuses it with."""
    with pytest.raises(ScenarioError) as caught:
        precheck(load_scenario(scenario(tmp_path, **changes)), "s")
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- the point key -----------------------------------------------------------------------------


def test_a_section_without_the_new_fields_keeps_its_geometry_and_keys(tmp_path: Path) -> None:
    old = ["mobility", "lanes", "lane_width_m", "spacing_m", "speed_kmh", "speed_spread", "rsu_offset_m"]
    old += ["rsu_height_m", "length_m", "trace", "rsu"]
    assert list(VehiclesSpec().geometry()) == old
    assert list(VehiclesSpec(receiver="umi", length_m=150).geometry()) == [*old, "receiver"]
    plain = points(load_scenario(scenario(tmp_path, vehicles={"count": 2})))[0]
    topology = points(load_scenario(scenario(tmp_path, vehicles={"count": 2, "receiver": "umi"})))[0]
    assert plain.key != topology.key and plain.key_id == topology.key_id  # new rows, the same link draws


@pytest.mark.parametrize(
    "section",
    [
        {"receiver": "umi", "length_m": 150},
        {"receiver": "rma", "rsu_offset_m": 50},
        {"rsu_pathloss": "highway"},
        {"mobility": "sumo", "network": "n.net.xml", "routes": "r.rou.xml", "rsu": [1, 2], "begin_s": 3},
    ],
)
def test_a_section_reloads_from_its_dump_as_nodes_rebuild_it(section: dict[str, Any]) -> None:
    spec = VehiclesSpec(**section)
    again = VehiclesSpec.model_validate(json.loads(json.dumps(spec.model_dump(mode="json"))))
    assert again == spec and again.geometry() == spec.geometry()


def test_the_scenario_docs_name_every_vehicles_field() -> None:
    text = (Path(__file__).resolve().parents[1] / "scenarios" / "README.md").read_text()
    named = [name for name in VehiclesSpec.model_fields if f"`{name}`" in text or f"`vehicles.{name}`" in text]
    missing = sorted(set(VehiclesSpec.model_fields) - set(named))
    assert missing == []


# --- the receiver ------------------------------------------------------------------------------


def test_the_schema_and_the_channel_agree_on_the_sites() -> None:
    for name, site in SITES.items():
        assert (site.height_m, site.isd_m) == (SITE_HEIGHTS_M[name], SITE_ISD_M[name])
    assert VehiclesSpec(receiver="uma").cell_radius_m == pytest.approx(500 / 3**0.5)
    assert VehiclesSpec().cell_radius_m is None and VehiclesSpec(receiver="rma").receiver_height_m == 35.0


def test_the_tr38901_formulas_match_sionnas() -> None:
    torch = pytest.importorskip("torch")
    tr38901 = pytest.importorskip("sionna.phy.channel.tr38901")
    fc = 5.9e9
    array = tr38901.PanelArray(
        num_rows_per_panel=1,
        num_cols_per_panel=1,
        polarization="single",
        polarization_type="V",
        antenna_pattern="omni",
        carrier_frequency=fc,
    )
    ground = np.array([12.0, 30.0, 80.0, 110.0, 250.0, 900.0])
    scenarios = {
        "umi": tr38901.UMiScenario(fc, "low", array, array, "uplink"),
        "uma": tr38901.UMaScenario(fc, "low", array, array, "uplink"),
        "rma": tr38901.RMaScenario(fc, array, array, "uplink"),
    }
    for name, model in scenarios.items():
        height = SITES[name].height_m
        ut = torch.tensor([[[x, 0.0, 1.5] for x in ground]], dtype=torch.float64)
        bs = torch.tensor([[[0.0, 0.0, height]]], dtype=torch.float64)
        still, still_bs = torch.zeros(1, len(ground), 3, dtype=torch.float64), torch.zeros(1, 1, 3, dtype=torch.float64)
        outdoor = torch.zeros(1, len(ground), dtype=torch.bool)
        for los in (True, False):
            model.set_topology(ut, bs, still, still_bs, still, outdoor, los=los)
            theirs = model.basic_pathloss.double().numpy().ravel()
            mine = pathloss_db(name, ground, np.full(ground.shape, los), height, 1.5, fc / 1e9)
            np.testing.assert_allclose(mine, theirs, atol=1e-3, err_msg=f"{name} los={los}")
        theirs_p = model.los_probability.double().numpy().ravel()
        np.testing.assert_allclose(los_probability(name, ground), theirs_p, atol=1e-6)


def test_a_base_station_sees_vehicles_in_and_out_of_sight_along_their_paths() -> None:
    times = np.arange(0.0, 30.0, 0.1)
    track = road_track(Road(length_m=560.0, rsu_height_m=25.0, spacing_m=10.0), 24, times, np.random.default_rng(3))
    budget = LinkBudget(shadowing_db=0.0)
    moved = np.zeros_like(track.ground_m)
    moved[1:] = np.hypot(*np.moveaxis(np.diff(track.xy, axis=0), -1, 0))
    loss = Receiver("uma").loss_db(track, budget, moved, np.random.default_rng(1))
    line = pathloss_db("uma", track.ground_m, np.ones_like(loss, dtype=bool), 25.0, 1.5, budget.carrier_ghz)
    los = np.isclose(loss, line)
    assert 0.1 < los.mean() < 0.9  # both states occur at these distances
    changes = np.count_nonzero(np.diff(los, axis=0))
    assert changes < 0.1 * los.size  # a state holds over tens of metres (independent draws: ~40 % change)
    assert np.all(loss >= line - 1e-9)  # NLOS never below LOS
    again = Receiver("uma").loss_db(track, budget, moved, np.random.default_rng(1))
    np.testing.assert_array_equal(loss, again)


def test_the_rsu_keeps_its_pathloss_and_offers_tr37885_highway() -> None:
    track = road_track(Road(), 6, np.arange(0.0, 3.0, 0.1), np.random.default_rng(0))
    budget = LinkBudget()
    moved = np.full_like(track.ground_m, 2.7)
    moved[0] = 0.0
    default = RSU.loss_db(track, budget, moved, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    before = budget.pathloss_db(track.ground_m, 10.0, 1.5) + budget.shadowing(moved, rng)
    np.testing.assert_array_equal(default, before)  # bit for bit what the budget gave before receivers
    highway = budget.highway_pathloss_db(np.array([100.0]), 10.0, 1.5)[0]
    assert highway == pytest.approx(32.4 + 20 * np.log10(np.hypot(100.0, 8.5)) + 20 * np.log10(5.9))
    table = snr_table(track, budget, Numerology(20.0, 30, None), "none", 1e6, rng, Receiver("rsu", "highway"))
    assert table.db.shape[1] == 6 and np.isfinite(table.db).all()


@pytest.mark.parametrize(
    ("vehicles", "words"),
    [
        ({"receiver": "umi"}, "the road reaches 1000 m from the umi base station, beyond its cell (radius 115 m"),
        ({"receiver": "umi"}, "set vehicles.length_m to at most 224"),
        ({"receiver": "uma", "rsu_offset_m": 400, "length_m": 100}, "bring the road nearer"),
        ({"receiver": "umi", "rsu_height_m": 12}, "receiver umi stands 10 m up (TR 38.901); drop rsu_height_m"),
        ({"receiver": "rma", "rsu_pathloss": "highway"}, "rsu_pathloss is the RSU's"),
        ({"receiver": "lte"}, "receiver"),
        ({"rsu_pathloss": "free_space"}, "rsu_pathloss"),
    ],
)
def test_bad_receivers_are_refused_in_one_line(tmp_path: Path, vehicles: dict[str, Any], words: str) -> None:
    assert words in refusal(tmp_path, vehicles={"count": 2, **vehicles})


def test_a_trace_beyond_the_cell_is_refused(tmp_path: Path) -> None:
    trace = write_fcd(tmp_path / "fcd.xml", vehicles=3, steps=40)  # x up to 20 + 30 * 3.9 = 137 m
    vehicles = {"count": 3, "mobility": "trace", "trace": str(trace), "rsu": [0, -20], "receiver": "umi"}
    assert "a vehicle of trace" in refusal(tmp_path, vehicles=vehicles)
    vehicles["receiver"] = "uma"
    precheck(load_scenario(scenario(tmp_path, vehicles=vehicles)), "s")


def test_a_cell_under_a_base_station_runs_end_to_end(tmp_path: Path) -> None:
    cell = {"model": "cell", "prbs": 2, "alpha": 0.8}  # partial compensation: the SNR shows the pathloss
    near = {"count": 3, "spacing_m": 30, "length_m": 500}
    rsu, rsu_cars = run(tmp_path, "rsu", channel=cell, vehicles=near)
    uma, uma_cars = run(tmp_path, "uma", channel=cell, vehicles={**near, "receiver": "uma"})
    assert len(rsu_cars) == len(uma_cars) == 3
    assert [c["distance_m"] for c in rsu_cars] == [c["distance_m"] for c in uma_cars]  # the same road
    assert [c["snr_db"] for c in rsu_cars] != [c["snr_db"] for c in uma_cars]  # 25 m up, UMa's pathloss
    assert rsu[0]["point_key"] != uma[0]["point_key"]


# --- SUMO --------------------------------------------------------------------------------------


def sumo_tool(name: str) -> str:
    """A SUMO program: from the ``eclipse-sumo`` wheel's SUMO_HOME, else from PATH."""
    sumo = pytest.importorskip("sumo", reason=NEEDS_SUMO)
    path = Path(sumo.SUMO_HOME) / "bin" / name
    found = str(path) if path.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"SUMO's {name} is not installed (pip install 'semlink[sumo]')")
    return found


def highway(folder: Path, vehicles: int = 6, edge: str = "ab") -> tuple[Path, Path]:
    """A 1 km straight two-lane road (x 0-1000 m, lanes at y = -1.6 and -4.8) from ``netconvert``
    and ``vehicles`` cars departing every 2 s on random lanes at 90 km/h (50 m apart: none brakes)."""
    (folder / "hw.nod.xml").write_text('<nodes><node id="a" x="0" y="0"/><node id="b" x="1000" y="0"/></nodes>')
    (folder / "hw.edg.xml").write_text('<edges><edge id="ab" from="a" to="b" numLanes="2" speed="40"/></edges>')
    network = folder / "hw.net.xml"
    command = [sumo_tool("netconvert"), "-n", str(folder / "hw.nod.xml"), "-e", str(folder / "hw.edg.xml")]
    subprocess.run([*command, "-o", str(network)], check=True, capture_output=True)
    routes = folder / "r.rou.xml"
    routes.write_text(
        f"""<routes>
  <vType id="car" maxSpeed="{SPEED_M_S}" speedFactor="1" speedDev="0" sigma="0"/>
  <route id="r" edges="{edge}"/>
  <flow id="f" type="car" route="r" begin="0" number="{vehicles}" period="2" departLane="random" departSpeed="max"/>
</routes>"""
    )
    return network, routes


@pytest.fixture
def libsumo() -> Any:
    """``libsumo``, or the test skipped with the reason."""
    return pytest.importorskip("libsumo", reason=NEEDS_SUMO)


def test_sumo_drives_the_vehicles_at_their_speed_the_same_way_for_one_seed(tmp_path: Path, libsumo: Any) -> None:
    network, routes = highway(tmp_path)
    drive = SumoDrive(str(network), str(routes), rsu=(500.0, -20.0))
    times = np.arange(0.0, 8.0 + 1e-9, 0.1)
    track = drive.track(4, times, np.random.default_rng(9))
    assert track.xy.shape == (81, 4, 2) and track.rsu_height_m == 10.0
    departed = np.arange(4) * 2.0  # vehicle k enters 2 k s in; from then on it drives at 25 m/s
    for k in range(4):
        moving = times >= departed[k] + 0.1
        steps = np.diff(track.xy[moving, k, 0])
        np.testing.assert_allclose(steps, SPEED_M_S * 0.1, atol=0.05)
    assert set(np.unique(track.xy[..., 1]).round(1).tolist()) <= {-1.6, -4.8}
    np.testing.assert_allclose(track.ground_m, np.hypot(track.xy[..., 0] - 500.0, track.xy[..., 1] + 20.0))
    np.testing.assert_allclose(track.speeds_kmh, 90.0, atol=0.01)
    again = drive.track(4, times, np.random.default_rng(9))
    np.testing.assert_array_equal(track.xy, again.xy)


def test_sumos_fcd_output_read_back_as_a_trace_gives_the_same_positions(tmp_path: Path, libsumo: Any) -> None:
    network, routes = highway(tmp_path)
    drive = SumoDrive(str(network), str(routes), rsu=(500.0, -20.0))
    times = np.arange(0.0, 6.0 + 1e-9, 0.1)
    ran = drive.seeded_track(4, times, seed=21)
    fcd = tmp_path / "fcd.xml"
    written = [sumo_tool("sumo"), *drive.command(21)[1:], "--end", "6.1", "--fcd-output", str(fcd)]
    subprocess.run(written, check=True, capture_output=True)
    read = FcdTrace(str(fcd), (500.0, -20.0)).track(4, times)
    np.testing.assert_allclose(read.xy, ran.xy, atol=0.006)  # the FCD file keeps two decimals
    np.testing.assert_allclose(read.ground_m, ran.ground_m, atol=0.01)
    np.testing.assert_allclose(read.speeds_kmh, ran.speeds_kmh, atol=0.05)


def test_sumo_refuses_a_drive_with_too_few_vehicles_in_one_line(tmp_path: Path, libsumo: Any) -> None:
    network, routes = highway(tmp_path)
    drive = SumoDrive(str(network), str(routes), rsu=(500.0, -20.0))
    with pytest.raises(ValueError, match=r"SUMO put 2 vehicles on the road in the drive's 3 s") as caught:
        drive.seeded_track(5, np.arange(0.0, 3.0 + 1e-9, 0.1), seed=1)
    assert "\n" not in str(caught.value)
    late = SumoDrive(str(network), str(routes), rsu=(500.0, -20.0), begin_s=10.0)
    assert late.seeded_track(5, np.arange(0.0, 3.0 + 1e-9, 0.1), seed=1).vehicles == 5  # the road filled first


def sumo_section(network: Path, routes: Path, **more: Any) -> dict[str, Any]:
    """A ``vehicles:`` section driving under SUMO."""
    return {"count": 3, "mobility": "sumo", "network": str(network), "routes": str(routes), "rsu": [500, -20], **more}


def test_bad_sumo_settings_are_refused_in_one_line_before_anything_loads(tmp_path: Path, libsumo: Any) -> None:
    network, routes = highway(tmp_path)
    assert "mobility: sumo needs network" in refusal(tmp_path, vehicles={"mobility": "sumo", "rsu": [0, 0]})
    nowhere = tmp_path / "nowhere.net.xml"
    missing = refusal(tmp_path, vehicles=sumo_section(nowhere, routes))
    assert f"vehicles.network {str(nowhere)!r} is not a file" in missing
    assert "more than the 6 vehicles routes" in refusal(tmp_path, vehicles=sumo_section(network, routes, count=8))
    (tmp_path / "other").mkdir()
    _, elsewhere = highway(tmp_path / "other", edge="zz")
    assert "drives on edge 'zz', which network" in refusal(tmp_path, vehicles=sumo_section(network, elsewhere))
    beyond = refusal(tmp_path, vehicles=sumo_section(network, routes, receiver="umi"))
    assert f"network {str(network)!r} reaches 500 m from the umi base station, beyond its cell" in beyond
    assert "read with mobility: sumo only" in refusal(tmp_path, vehicles={"count": 2, "begin_s": 5})
    precheck(load_scenario(scenario(tmp_path, vehicles=sumo_section(network, routes))), "s")


def test_without_sumo_mobility_sumo_is_refused_naming_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "n.net.xml").write_text("<net/>")
    (tmp_path / "r.rou.xml").write_text("<routes/>")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "libsumo" else real(name, *a))
    message = refusal(tmp_path, vehicles=sumo_section(tmp_path / "n.net.xml", tmp_path / "r.rou.xml"))
    assert "vehicles.mobility sumo runs SUMO, which is not installed: pip install 'semlink[sumo]'" in message
    monkeypatch.setitem(sys.modules, "libsumo", None)  # import libsumo raises ImportError
    drive = SumoDrive(str(tmp_path / "n.net.xml"), str(tmp_path / "r.rou.xml"), rsu=(0.0, 0.0))
    with pytest.raises(ValueError, match=r"pip install 'semlink\[sumo\]'"):
        drive.seeded_track(1, np.arange(0.0, 1.0, 0.1), seed=0)


def test_a_cell_of_vehicles_driven_by_sumo_runs_end_to_end(tmp_path: Path, libsumo: Any) -> None:
    network, routes = highway(tmp_path)
    vehicles = sumo_section(network, routes, begin_s=5.0)
    results, cars = run(tmp_path, "sumo", channel={"model": "cell", "prbs": 2}, vehicles=vehicles)
    assert len(results) == 1 and len(cars) == 3
    assert all(-4.9 <= float(c["y_m"]) <= -1.5 for c in cars)
    assert all(0.0 < float(c["x_m"]) < 1000.0 for c in cars)
    saved = json.loads(json.dumps(vehicles))
    again, cars_again = run(tmp_path, "again", channel={"model": "cell", "prbs": 2}, vehicles=saved)
    assert [c["distance_m"] for c in cars] == [c["distance_m"] for c in cars_again]
    assert results[0]["miou"] == again[0]["miou"]


def test_the_road_picture_names_the_receiver_the_run_had(tmp_path: Path) -> None:
    from semlink.report.road import plot_road, receiver_name, rsu_of

    (tmp_path / "scenario.yaml").write_text("vehicles: {receiver: uma, rsu_offset_m: 35}\n")
    assert receiver_name(tmp_path) == "UMa base station" and rsu_of(tmp_path) == (0.0, -35.0)
    row = {"codec": "jpeg", "vehicles.count": "2", "x_m": "1", "y_m": "0", "miou": "0.5"}
    drawn = plot_road([row, {**row, "x_m": "9"}], rsu_of(tmp_path), receiver_name(tmp_path))
    assert drawn is not None and "the triangle is the UMa base station" in drawn.caption
    texts = [t.get_text() for ax in drawn.figure.axes for t in ax.texts]
    assert "UMa base station" in texts
    (tmp_path / "scenario.yaml").write_text("vehicles: {count: 2}\n")
    assert receiver_name(tmp_path) == "RSU"
