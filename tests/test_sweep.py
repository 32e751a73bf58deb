"""Open axes: products, zip groups, every sweepable field, stable keys, repeats and their seeds."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semlink.metrics import build_metrics
from semlink.results.intervals import estimate_with_intervals, resample_weights
from semlink.results.writer import ResultsError, ResultsWriter
from semlink.scenario.loading import validate
from semlink.scenario.schema import Scenario, ScenarioError
from semlink.scenario.sweep import column_name, points, varying_axes
from semlink.study.trials import channel_seed, trials

BASE: dict[str, Any] = {
    "name": "t",
    "seed": 3,
    "data": {"source": "synthetic", "frames": 2, "size": [64, 128]},
    "codecs": [{"name": "jpeg", "target_bpp": 0.2}],
    "channel": {"model": "bernoulli", "loss": 0.1},
    "transport": "inproc",
    "segmenter": "tests.fakes:brightness_segmenter",
    "device": "cpu",
}


def scenario(**changes: Any) -> Scenario:
    raw = {**BASE, **changes}
    return validate(raw, "test")


@pytest.mark.parametrize(
    ("changes", "axis", "values"),
    [
        ({"channel": {"model": "bernoulli", "loss": [0.0, 0.1]}}, "channel.loss", [0.0, 0.1]),
        ({"link": {"mtu": ["its-g5", "ip"]}}, "link.mtu", ["its-g5", "ip"]),
        ({"link": {"fps": [10, 30]}}, "link.fps", [10.0, 30.0]),
        ({"link": {"deadline_ms": [50, None]}}, "link.deadline_ms", [50.0, None]),
        ({"link": {"window": [2, 8]}}, "link.window", [2, 8]),
        ({"link": {"conceal": ["repeat", "grey"]}}, "link.conceal", ["repeat", "grey"]),
        (
            {"data": {"source": "synthetic", "frames": 2, "size": [[64, 128], [32, 64]]}},
            "data.size",
            [(64, 128), (32, 64)],
        ),
        ({"segmenter": ["tests.fakes:brightness_segmenter", "tests.fakes:other"]}, "segmenter", None),
        ({"codecs": [{"name": "jpeg", "target_bpp": [0.1, 0.2]}]}, "codec.target_bpp", [0.1, 0.2]),
        ({"codecs": [{"name": "jpeg", "quality": [10, 50]}]}, "codec.quality", [10, 50]),
        ({"codecs": [{"name": "sqgan", "target_bpp": 0.05, "map_scale": [2, 4]}]}, "codec.map_scale", [2, 4]),
    ],
)
def test_every_documented_field_is_an_axis(changes: dict[str, Any], axis: str, values: list[Any] | None) -> None:
    sweep = points(scenario(**changes))
    assert len(sweep) == 2
    assert varying_axes(sweep) == [axis]
    if values is not None:
        assert [p.axes[axis] for p in sweep] == values


def test_the_sweep_is_the_product_codecs_outermost_channel_innermost() -> None:
    s = scenario(
        codecs=[{"name": "jpeg", "target_bpp": [0.1, 0.2]}, {"name": "webp", "target_bpp": 0.1}],
        channel={"model": "bernoulli", "loss": [0.0, 0.1, 0.2]},
        link={"mtu": [600, 1200]},
    )
    sweep = points(s)
    assert len(sweep) == 2 * 2 * 3 + 1 * 2 * 3
    first = [(p.codec, p.link.mtu, p.codec_args["target_bpp"], p.params["loss"]) for p in sweep[:4]]
    assert first == [("jpeg", 600, 0.1, 0.0), ("jpeg", 600, 0.1, 0.1), ("jpeg", 600, 0.1, 0.2), ("jpeg", 600, 0.2, 0.0)]
    assert varying_axes(sweep) == ["codec", "link.mtu", "codec.target_bpp", "channel.loss"]
    assert [column_name(a) for a in varying_axes(sweep)] == ["codec", "link.mtu", "target_bpp", "loss"]


def test_zip_groups_vary_together() -> None:
    s = scenario(
        channel={"model": "phy", "snr_db": [0, 10], "speed_kmh": [30, 120, 250], "fading": ["rayleigh", "tdl", "tdl"]},
        zip=[["channel.speed_kmh", "channel.fading"]],
    )
    sweep = points(s)
    assert len(sweep) == 2 * 3
    assert {(p.params["speed_kmh"], p.params["fading"]) for p in sweep} == {
        (30, "rayleigh"),
        (120, "tdl"),
        (250, "tdl"),
    }


@pytest.mark.parametrize(
    ("zip_groups", "message"),
    [
        ([["channel.loss", "channel.nope"]], "not an axis"),
        ([["channel.loss", "link.mtu"]], "one length"),
    ],
)
def test_bad_zip_groups_are_one_line_errors(zip_groups: list[list[str]], message: str) -> None:
    s = scenario(channel={"model": "bernoulli", "loss": [0.0, 0.1]}, link={"mtu": [600, 900, 1200]}, zip=zip_groups)
    with pytest.raises(ScenarioError, match=message):
        points(s)


def test_keys_are_stable_and_name_every_setting() -> None:
    one = points(scenario(channel={"model": "bernoulli", "loss": [0.0, 0.1]}))
    two = points(scenario(channel={"model": "bernoulli", "loss": [0.0, 0.1]}))
    assert [p.key for p in one] == [p.key for p in two]
    assert len({p.key for p in one}) == 2
    other_mtu = points(scenario(channel={"model": "bernoulli", "loss": [0.0, 0.1]}, link={"mtu": 600}))
    other_seed = points(scenario(channel={"model": "bernoulli", "loss": [0.0, 0.1]}, seed=4))
    assert not {p.key for p in one} & {p.key for p in other_mtu}
    assert not {p.key for p in one} & {p.key for p in other_seed}


@pytest.mark.parametrize(
    ("codec", "instead"),
    [("sqgan", "tokens"), ("ssm", "map_scale"), ("spic", "quality"), ("jpeg", "target_bpp or quality")],
)
def test_the_old_rate_knob_says_what_to_write(codec: str, instead: str) -> None:
    with pytest.raises(ScenarioError, match=f"'rate' is gone; write {instead}"):
        scenario(codecs=[{"name": codec, "rate": 0.5}])


def test_repeats_draw_distinct_channel_streams_and_seeds_replace_the_run_seed() -> None:
    s = scenario(repeats=3)
    sweep = points(s)
    units = trials(s, sweep)
    assert [u.index for u in units] == [0, 1, 2]
    seeds = {channel_seed(s, u) for u in units}
    assert len(seeds) == 3
    explicit = scenario(seeds=[11, 12])
    assert [channel_seed(explicit, u)[0] for u in trials(explicit, points(explicit))] == [11, 12]
    with pytest.raises(ScenarioError, match="not both"):
        scenario(repeats=3, seeds=[1, 2])


def test_bootstrap_weights_keep_the_frame_count_and_resample_repeats() -> None:
    rng = np.random.default_rng(0)
    weights = resample_weights([4, 4, 4], 200, rng)
    assert weights.shape == (200, 12)
    assert np.all(weights.sum(axis=1) == 12)
    per_repeat = weights.reshape(200, 3, 4).sum(axis=2)
    assert np.all(per_repeat % 4 == 0)  # whole realisations drawn, then frames within them
    assert (per_repeat == 0).any()  # some resample leaves a realisation out


def test_interval_of_a_hand_made_case() -> None:
    from semlink.data.labelset import CITYSCAPES

    (psnr,) = build_metrics(["psnr"], CITYSCAPES)
    same = estimate_with_intervals([psnr], {"psnr": [30.0] * 10}, [10], np.random.default_rng(1))
    assert same["psnr"] == (30.0, 30.0, 30.0)
    values = [20.0] * 5 + [40.0] * 5
    estimate, low, high = estimate_with_intervals([psnr], {"psnr": values}, [10], np.random.default_rng(1))["psnr"]
    assert estimate == 30.0
    assert 20.0 < low < 30.0 < high < 40.0
    # the bootstrap mean of 10 draws from {20, 40}: sd = 10 / sqrt(10) = 3.2, so the 95 % interval is about ±6.2
    assert high - low == pytest.approx(12.4, abs=2.5)


def test_a_results_folder_with_other_metrics_is_refused_in_one_line(tmp_path: Path) -> None:
    from semlink.data.labelset import CITYSCAPES

    s = scenario()
    sweep = points(s)
    writer = ResultsWriter(tmp_path, s, sweep, build_metrics(["psnr"], CITYSCAPES))
    with writer.csv_path.open("w", newline="") as handle:
        csv.writer(handle).writerow(writer.columns)
    ResultsWriter(tmp_path, s, sweep, build_metrics(["psnr"], CITYSCAPES))  # same metrics: resumes
    with pytest.raises(ResultsError, match=r"this scenario adds miou.*choose a new --out"):
        ResultsWriter(tmp_path, s, sweep, build_metrics(["psnr", "miou"], CITYSCAPES))


def test_same_seed_same_rows_and_repeats_see_different_fates(tmp_path: Path) -> None:
    import json

    from semlink.executors.runner import Run

    s = scenario(repeats=2, channel={"model": "bernoulli", "loss": [0.3]}, codecs=[{"name": "jpeg", "quality": 50}])
    for name in ("a", "b"):
        Run(s, "test", tmp_path / name).execute()
    first, second = ((tmp_path / n / "results.csv").read_text() for n in ("a", "b"))
    assert first == second
    (row,) = list(csv.DictReader(first.splitlines()))
    assert row["repeats"] == "2" and float(row["miou_lo"]) <= float(row["miou"]) <= float(row["miou_hi"])
    lines = [json.loads(x) for x in (tmp_path / "a" / "frames.jsonl").read_text().splitlines()]
    fates = {r: [x["packets_received"] for x in lines if x["repeat"] == r] for r in (0, 1)}
    assert len(fates[0]) == len(fates[1]) == 2 and fates[0] != fates[1]
    assert {"miou", "psnr", "delivery"} <= set(lines[0]["metrics"])


def test_a_rerun_repairs_what_a_killed_run_left_and_gives_the_same_files(tmp_path: Path) -> None:
    """A torn last row, a torn frames line and frames of a point whose row never came: a rerun
    drops them, runs that point again and ends with the files of an uninterrupted run."""
    import shutil

    from semlink.executors.runner import Run

    s = scenario(channel={"model": "bernoulli", "loss": [0.0, 0.3]}, codecs=[{"name": "jpeg", "quality": 50}])
    clean = tmp_path / "clean"
    Run(s, "test", clean).execute()
    killed = tmp_path / "killed"
    shutil.copytree(clean, killed)
    rows = (clean / "results.csv").read_text().splitlines(keepends=True)
    (killed / "results.csv").write_text("".join(rows[:-1]) + rows[-1][:25])  # the last row torn
    with (killed / "frames.jsonl").open("a") as handle:
        handle.write('{"point": 1, "rep')  # a torn frames line after the last point's (orphaned) frames
    run = Run(s, "test", killed)
    assert run.pending(run.build()) == {1}
    run.execute()
    for name in ("results.csv", "frames.jsonl"):
        assert (killed / name).read_text() == (clean / name).read_text()
