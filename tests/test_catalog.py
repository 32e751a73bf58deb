"""The catalog of built-in names matches the registries it stands in for."""

from __future__ import annotations

import importlib

import pytest

from semlink.catalog import BUILTIN, FILES, KNOBS, name_problem
from semlink.channel.base import CHANNELS
from semlink.codecs import CODECS
from semlink.data.sources import DATASETS
from semlink.metrics import METRICS
from semlink.registry import Registry
from semlink.vision.segmenter import SEGMENTERS

REGISTRIES: list[Registry[object]] = [CODECS, CHANNELS, METRICS, DATASETS, SEGMENTERS]  # type: ignore[list-item]


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_the_catalog_lists_exactly_the_registered_names(registry: Registry[object]) -> None:
    for module in ("semlink.channel", "semlink.data.camvid", "semlink.data.cityscapes", "semlink.data.folder"):
        importlib.import_module(module)  # each registers its components
    importlib.import_module("semlink.data.synthetic.source")
    assert sorted(registry._factories) == sorted(BUILTIN[registry.kind])


def test_the_catalog_knows_every_built_in_codec_knob() -> None:
    knobs = {name: CODECS.get(name).knob for name in BUILTIN["codec"]}
    assert {name: knob for name, knob in knobs.items() if knob is not None} == KNOBS


@pytest.mark.parametrize("registry", [CHANNELS, METRICS, CODECS], ids=lambda r: r.kind)
def test_the_catalog_knows_every_file_setting(registry: Registry[object]) -> None:
    import semlink.channel  # noqa: F401  (registers the channel models)

    declared = {name: getattr(registry.get(name), "files", ()) for name in BUILTIN[registry.kind]}
    assert {name: files for name, files in declared.items() if files} == FILES.get(registry.kind, {})


def test_a_misspelt_name_is_refused_with_the_known_ones() -> None:
    problem = name_problem("codec", "jpgg")
    assert problem is not None and "unknown codec 'jpgg' (did you mean 'jpeg'?); choose one of: avif" in problem
    assert name_problem("codec", "jpeg") is None and name_problem("codec", "pkg.mod:Codec") is None
    assert name_problem("metric", ":x") == "metric ':x' must look like package.module:Attribute"
