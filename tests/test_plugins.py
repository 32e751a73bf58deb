"""Plugins: components by import path and by entry point, and docs/plugins.md's example run as written."""

from __future__ import annotations

import csv
import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from semlink.codecs import CODECS
from semlink.data.labelset import CITYSCAPES, LabelSet
from semlink.metrics.base import METRICS, build_metrics
from semlink.registry import PluginError, Registry, UnknownComponentError
from semlink.scenario.loading import validate
from semlink.scenario.schema import ScenarioError
from semlink.study.components import check_points

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"
BLOCK = re.compile(r"```(?:python|yaml)\n# (?P<name>[\w.]+)\n(?P<body>.*?)```", re.S)


def doc_files() -> dict[str, str]:
    """The files docs/plugins.md writes out: each code block that starts with ``# filename``."""
    return {m["name"]: f"# {m['name']}\n{m['body']}" for m in BLOCK.finditer(DOC.read_text())}


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in doc_files().items():
        (tmp_path / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_the_doc_holds_the_files_it_talks_about() -> None:
    assert set(doc_files()) == {"mycodecs.py", "mymetrics.py", "blockvq.yaml", "run_blockvq.py"}


def test_docs_example_runs_as_written(plugin_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "run_blockvq.py"], cwd=plugin_dir, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    printed = [line.split() for line in done.stdout.splitlines() if line.strip()]
    assert len(printed) == 6 and printed[0][:2] == ["mycodecs:BlockVQ", "4"]
    rows = list(csv.DictReader((plugin_dir / "results" / "blockvq" / "results.csv").open()))
    assert [r["codec"] for r in rows] == ["mycodecs:BlockVQ"] * 4 + ["sqgan"] * 2
    by_block = {(r["block"], float(r["loss"])): r for r in rows if r["block"]}
    assert float(by_block[("4", 0.0)]["bpp"]) == pytest.approx(8 / 16)  # one byte per 4x4 block
    assert float(by_block[("8", 0.0)]["bpp"]) == pytest.approx(8 / 64)
    for row in rows:
        assert row["repeats"] == "2" and float(row["mae_lo"]) <= float(row["mae"]) <= float(row["mae_hi"])
    assert float(by_block[("4", 0.0)]["mae"]) < float(by_block[("8", 0.0)]["mae"])


def test_plugin_codec_and_metric_load_by_import_path(plugin_dir: Path) -> None:
    codec = CODECS.create("mycodecs:BlockVQ", target_bpp=0.5)
    image = np.random.default_rng(0).integers(0, 256, (32, 64, 3), dtype=np.uint8)
    bitstream = codec.compress(image)
    assert bitstream.bpp <= 0.5 and codec.decompress(bitstream.received()).shape == image.shape
    (metric,) = build_metrics(["mymetrics:MeanAbsError"], codec_label_set())
    assert metric.columns() == ("mae",)


def codec_label_set() -> LabelSet:
    return CITYSCAPES


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("nowhere_at_all:Codec", "cannot import codec 'nowhere_at_all:Codec'"),
        ("mycodecs:Missing", "mycodecs has no Missing"),
        ("mycodecs:learn_palette", "not a subclass of semlink.codecs.base.Codec"),
        ("mycodecs:", "must look like package.module:Attribute"),
    ],
)
def test_a_bad_import_path_is_one_line(name: str, says: str, plugin_dir: Path) -> None:
    with pytest.raises(PluginError, match=re.escape(says)) as error:
        CODECS.get(name)
    assert "\n" not in str(error.value)


def test_a_scenario_naming_a_bad_plugin_says_so_in_one_line(plugin_dir: Path) -> None:
    raw = {
        "name": "t",
        "data": {"source": "synthetic", "split": "val", "frames": 1, "size": [64, 128]},
        "codecs": [{"name": "mycodecs:Nope"}],
        "channel": {"model": "ideal"},
    }
    with pytest.raises(ScenarioError, match="mycodecs has no Nope") as error:
        check_points(validate(raw, "t.yaml"), "t.yaml")
    assert "\n" not in str(error.value)


class FakeEntryPoint:
    """What :func:`importlib.metadata.entry_points` yields, for a distribution the test does not install."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def load(self) -> object:
        module, _, attribute = self.value.partition(":")
        return getattr(importlib.import_module(module), attribute)


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch, plugin_dir: Path) -> Iterator[None]:
    installed = {
        "semlink.codecs": [FakeEntryPoint("blockvq", "mycodecs:BlockVQ"), FakeEntryPoint("broken", "mycodecs:Gone")],
        "semlink.metrics": [FakeEntryPoint("mae", "mymetrics:MeanAbsError")],
    }

    def fake(group: str) -> list[FakeEntryPoint]:
        return installed.get(group, [])

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    yield
    for registry, name in ((CODECS, "blockvq"), (METRICS, "mae")):
        registry._factories.pop(name, None)


@pytest.mark.usefixtures("entry_points")
def test_plugin_codec_and_metric_load_by_entry_point() -> None:
    assert "blockvq" in CODECS.names() and "mae" in METRICS.names()
    codec = CODECS.create("blockvq", block=4)
    assert codec.compress(np.zeros((16, 32, 3), dtype=np.uint8)).bits == 8 * 4 * 8
    (metric,) = build_metrics(["mae"], codec_label_set())
    assert metric.name == "mae"


@pytest.mark.usefixtures("entry_points")
def test_a_broken_entry_point_is_named_in_one_line() -> None:
    with pytest.raises(PluginError, match=r"entry point 'broken' \(mycodecs:Gone\) of group semlink.codecs"):
        CODECS.get("broken")


def test_unknown_names_list_the_known_ones_and_the_import_path_form() -> None:
    registry: Registry[object] = Registry("widget")
    registry.register("a")(object)
    with pytest.raises(UnknownComponentError, match=r"choose one of: a \(or module:Attribute\)"):
        registry.get("b")


SMALL = {
    "name": "api",
    "seed": 2,
    "data": {"source": "synthetic", "split": "val", "frames": 2, "size": [64, 128]},
    "codecs": [{"name": "jpeg", "quality": [20, 60]}],
    "channel": {"model": "bernoulli", "loss": 0.0},
    "repeats": 2,
    "metrics": ["psnr", "delivery"],
}


def test_the_api_runs_a_dict_returns_its_records_and_resumes(tmp_path: Path) -> None:
    import semlink

    result = semlink.run(SMALL, out=tmp_path / "r", transport="inproc", report=False)
    assert result.ran == 2 and [r["quality"] for r in result.rows] == [20, 60]
    assert float(result.rows[0]["psnr"]) < float(result.rows[1]["psnr"])
    assert len(result.frames()) == 2 * 2 * 2  # points x repeats x frames
    again = semlink.run(semlink.Scenario.model_validate(SMALL), out=tmp_path / "r", transport="inproc")
    assert again.ran == 0 and again.rows == result.rows


def test_the_api_refuses_a_bad_transport_in_one_line(tmp_path: Path) -> None:
    import semlink

    with pytest.raises(semlink.ScenarioError, match="transport") as error:
        semlink.run(SMALL, out=tmp_path, transport="pigeon")  # type: ignore[arg-type]
    assert "\n" not in str(error.value)
