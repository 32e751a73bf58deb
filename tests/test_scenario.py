"""Scenario files: validation errors name the file and field, overrides, sweep expansion."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from semlink.errors import did_you_mean
from semlink.scenario.loading import MAX_SCENARIO_BYTES, load_scenario
from semlink.scenario.precheck import precheck
from semlink.scenario.schema import ScenarioError
from semlink.scenario.sweep import points
from semlink.study.components import check_points

GOOD = """
name: t
seed: 3
data: {source: synthetic, split: val, frames: 2, size: [64, 128]}
codecs:
  - {name: jpeg, target_bpp: [0.5, 1.0]}
  - {name: identity}
channel: {model: bernoulli, loss: [0.0, 0.2]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_sweep_is_the_product_of_every_list(tmp_path: Path) -> None:
    sweep = points(load_scenario(write(tmp_path, GOOD)))
    assert [(p.codec, p.codec_args.get("target_bpp", 1.0), p.params["loss"]) for p in sweep] == [
        ("jpeg", 0.5, 0.0),
        ("jpeg", 0.5, 0.2),
        ("jpeg", 1.0, 0.0),
        ("jpeg", 1.0, 0.2),
        ("identity", 1.0, 0.0),
        ("identity", 1.0, 0.2),
    ]
    assert len({p.key for p in sweep}) == len(sweep)


def test_overrides_reach_any_field(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD), ["data.frames=5", "codecs.0.target_bpp=[0.2]", "channel.loss=0.1"])
    assert scenario.data.frames == 5
    assert [(p.codec, p.codec_args.get("target_bpp"), p.params["loss"]) for p in points(scenario)][:1] == [
        ("jpeg", 0.2, 0.1)
    ]


def test_impairments_are_split_from_model_parameters(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD), ["channel.delay_ms=[5, 10]"])
    sweep = points(scenario)
    assert len(sweep) == 12
    assert sweep[0].impairments == {"delay_ms": 5} and "delay_ms" not in sweep[0].params


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        (GOOD, ["data.frames=0"], r"s\.yaml: data\.frames: Input should be greater than or equal to 1"),
        (GOOD, ["link.colour=red"], r"link\.colour: unknown field; the fields here: mtu,"),
        (GOOD, ["codecs.0.quality=50"], r"codecs\.0: codec jpeg: give one of target_bpp, quality"),
        (GOOD, ["channel={loss: 0.1}"], r"channel: channel needs a 'model'"),
        (GOOD, ["codecs.9.name=x"], r"'9' is not an index"),
        (GOOD, ["nonsense"], r"must look like key\.sub=value"),
        (GOOD, ["channel.loss=[]"], r"channel\.loss is an empty list"),
        (GOOD, ["seed=-1"], r"seed: Input should be greater than or equal to 0"),
        (GOOD, ["link.mtu=jumbo"], r"link\.mtu: unknown MTU preset"),
        ("codecs: [\n  {name: jpeg", [], r"s\.yaml line \d+: not valid YAML"),
        ("- just\n- a list\n", [], r"top level must be a mapping"),
    ],
)
def test_bad_scenarios_give_one_line_naming_file_and_field(
    tmp_path: Path, text: str, overrides: list[str], expected: str
) -> None:
    with pytest.raises(ScenarioError, match=expected) as caught:
        load_scenario(write(tmp_path, text), overrides)
    assert "\n" not in str(caught.value)


def test_missing_file_says_where_examples_are(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="does not exist; see scenarios/"):
        load_scenario(tmp_path / "nope.yaml")


def test_a_misspelt_scenario_file_gets_a_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "highway.yaml").write_text("name: x\n")
    with pytest.raises(ScenarioError, match=re.escape(f"(did you mean '{tmp_path / 'highway.yaml'}'?)")):
        load_scenario(tmp_path / "higway.yaml")
    with pytest.raises(ScenarioError, match=re.escape("(did you mean 'scenarios/quickstart.yaml'?)")):
        load_scenario(Path("quickstrat"))


def test_shipped_scenarios_are_valid_down_to_every_codec_and_channel() -> None:
    paths = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
    assert paths
    for path in paths:
        assert check_points(load_scenario(path), str(path)), path


def test_yaml_floats_in_exponent_form_are_numbers(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD), ["channel.rate_bps=6e6", "channel.loss=1e-2"])
    point = points(scenario)[0]
    assert point.impairments["rate_bps"] == 6e6 and point.params["loss"] == 0.01


def test_changing_what_shapes_the_numbers_changes_the_keys(tmp_path: Path) -> None:
    base = {p.key for p in points(load_scenario(write(tmp_path, GOOD)))}
    for override in ("seed=4", "data.frames=3", "link.mtu=its-g5", "segmenter=x.pt"):
        assert base.isdisjoint(p.key for p in points(load_scenario(write(tmp_path, GOOD), [override]))), override


BAD_INPUT = [
    ("a: " + "[" * 5000 + "]" * 5000, "nested more than 32 deep"),
    (
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "\n".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)),
        "more than 100000 values once its aliases are expanded",
    ),
    ("name: x\nseed: 1\ncodecs: [{name: jpeg}]\nseed: 2\n", "line 4: key 'seed' is given twice (first on line 2)"),
    ("name: x\ncodecs: [{name: jpeg, quality: 5, quality: 9}]\n", "key 'quality' is given twice"),
]


@pytest.mark.parametrize(("text", "says"), BAD_INPUT, ids=["deep", "alias-bomb", "duplicate-top", "duplicate-inner"])
def test_hostile_yaml_is_refused_in_one_line(text: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=re.escape(says)) as error:
        load_scenario(path)
    assert str(error.value).startswith(f"scenario {path}") and "\n" not in str(error.value)


def test_a_huge_scenario_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_SCENARIO_BYTES + 1)
    with pytest.raises(ScenarioError, match="above the 1,000,000 a scenario may be"):
        load_scenario(path)


def test_a_deep_set_value_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ncodecs: [{name: jpeg}]\n")
    with pytest.raises(ScenarioError, match=r"--set 'channel\.loss=.*nested more than"):
        load_scenario(path, ["channel.loss=" + "[" * 100 + "]" * 100])


PRECHECKED = [
    ("codecs: [{name: jpgg}]", "unknown codec 'jpgg' (did you mean 'jpeg'?); choose one of: avif"),
    ("codecs: [{name: jpeg}]\nchannel: {model: bernouli}", "unknown channel model 'bernouli'"),
    ("codecs: [{name: jpeg}]\nmetrics: [miou, psnrr]", "unknown metric 'psnrr'"),
    ("codecs: [{name: jpeg}]\nmetrics: [{name: lpipz}]", "unknown metric 'lpipz'"),
    ("codecs: [{name: jpeg}]\ndata: {source: camvidd}", "unknown frame source 'camvidd'"),
    ("codecs: [{name: jpeg}]\ndata: {source: folder, root: /no/such/folder}", "data.root '/no/such/folder' is not"),
    ("codecs: [{name: jpeg}]\nsegmenter: /no/such.pt", "segmenter '/no/such.pt' is not a file"),
    ("codecs: [{name: jpeg}]\nsegmenter: shiped", "unknown segmenter 'shiped'"),
    ("codecs: [{name: jpeg}]\nchannel: {model: trace, path: /no/trace.txt}", "channel.path '/no/trace.txt' is not"),
    (
        "codecs: [{name: jpeg}]\nmetrics: [{name: lpips, weights: /no/w.pt2}]",
        "metrics[lpips].weights '/no/w.pt2' is not",
    ),
    ("codecs: [{name: jpgg}, {name: webpp}]", "(and 1 more)"),
]


@pytest.mark.parametrize(("body", "says"), PRECHECKED)
def test_names_and_files_are_checked_before_anything_heavy(body: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: x\n{body}\n")
    code = (
        "import sys; from pathlib import Path; from semlink.scenario import load_scenario; "
        "from semlink.scenario.precheck import precheck\n"
        f"try:\n    precheck(load_scenario(Path({str(path)!r})), 's.yaml')\n"
        "except ValueError as error:\n    print(error)\n"
        "print('heavy:', sorted(m for m in ('torch', 'sionna', 'zmq', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert says in result.stdout, result.stdout + result.stderr
    assert "heavy: []" in result.stdout


def shipped_scenarios() -> list[object]:
    """Each shipped scenario as a test parameter, marked ``camvid`` where its frames are CamVid's."""
    params: list[object] = []
    for path in sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml")):
        source = (yaml.safe_load(path.read_text()).get("data") or {}).get("source")
        marks = [pytest.mark.camvid] if source == "camvid" else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.mark.parametrize("path", shipped_scenarios())
def test_a_good_scenario_passes_the_precheck(path: Path) -> None:
    precheck(load_scenario(path), str(path))


def test_the_precheck_refuses_camvid_where_it_is_absent(tmp_path: Path) -> None:
    path = write(tmp_path, "codecs: [{name: jpeg, quality: 50}]\ndata: {source: camvid}\n")
    with pytest.raises(ScenarioError, match=r"CamVid is not in /nonexistent/.*; set SEMLINK_CAMVID or data\.root"):
        precheck(load_scenario(path), str(path))


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("chanel.loss=0.1", "chanel: unknown field (did you mean 'channel'?); the fields here: name, seed,"),
        ("network.hwmm=3", "network.hwmm: unknown field (did you mean 'hwm'?); the fields here: channel_bind,"),
        ("channel.loss:0.1", "--set 'channel.loss:0.1' must look like key.sub=value (did you mean channel.loss=0.1?)"),
    ],
)
def test_a_misspelt_field_is_refused_with_the_closest_one(override: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("codecs: [{name: jpeg, quality: 50}]\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path, [override])
    assert says in str(error.value) and "\n" not in str(error.value)


def test_did_you_mean_stays_quiet_when_nothing_is_close() -> None:
    assert did_you_mean("jpgg", ["jpeg", "webp"]) == " (did you mean 'jpeg'?)"
    assert did_you_mean("zzzz", ["jpeg", "webp"]) == ""
