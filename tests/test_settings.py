"""One settings checker for every component: declared settings, constructor signatures, plugins
with ``**kwargs`` or without a rate knob."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semlink.codecs.base import Bitstream, Codec, ReceivedBitstream, check_codec_class
from semlink.settings import Setting, check_names, check_number, settings_of
from semlink.study.components import check_settings


class AnyOptions(Codec):
    """A plugin codec taking any setting through ``**kwargs``."""

    name = "any-options"

    def __init__(self, **options: object) -> None:
        self.options = options

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        raise NotImplementedError

    def decompress(self, received: ReceivedBitstream) -> np.ndarray:
        raise NotImplementedError


class NoKnob(AnyOptions):
    """A plugin codec with one required setting and no rate knob."""

    name = "no-knob"

    def __init__(self, levels: int, dither: bool = False) -> None:
        self.levels, self.dither = levels, dither


def test_a_codec_with_kwargs_takes_any_setting() -> None:
    check_codec_class("any-options", AnyOptions)
    assert settings_of(AnyOptions) is None
    check_settings("any-options", AnyOptions, {"target_bpp": 0.1, "whatever": [1, 2]})


def test_a_codec_without_a_knob_registers_and_runs_without_target_bpp() -> None:
    check_codec_class("no-knob", NoKnob)
    assert [s.name for s in settings_of(NoKnob) or []] == ["levels", "dither"]
    check_settings("no-knob", NoKnob, {"levels": 4})
    with pytest.raises(ValueError, match=r"codec no-knob has no setting 'target_bpp'; its settings: levels, dither"):
        check_settings("no-knob", NoKnob, {"levels": 4, "target_bpp": 0.1})
    with pytest.raises(ValueError, match=r"codec no-knob: missing setting levels"):
        check_settings("no-knob", NoKnob, {"dither": True})


def test_a_misspelt_setting_gets_a_did_you_mean() -> None:
    with pytest.raises(ValueError, match=r"has no setting 'levls' \(did you mean 'levels'\?\)"):
        check_names("codec no-knob", settings_of(NoKnob), {"levls": 4})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, r"loss=1\.5 must be in \[0, 1\]"),
        (math.nan, r"loss=nan must be in \[0, 1\]"),
        ("x", r"loss='x' must be a number in \[0, 1\]"),
        (True, r"loss=True must be a number"),
    ],
)
def test_numbers_are_checked_against_their_range(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_number("bernoulli", "loss", value, 0.0, 1.0)


def test_a_declared_setting_checks_type_and_range_and_describes_itself() -> None:
    mtu = Setting("mtu", int, 1200, low=64, doc="largest packet in bytes")
    assert mtu.check("link", 1500) == 1500 and isinstance(mtu.check("link", 1500.0), int)
    with pytest.raises(ValueError, match="must be a whole number"):
        mtu.check("link", 100.5)
    with pytest.raises(ValueError, match=r"mtu=10\.0 must be >= 64"):
        mtu.check("link", 10)
    assert mtu.describe() == "mtu (int >= 64, default 1200): largest packet in bytes"
    assert Setting("path", str).describe() == "path (str, required)"


def test_declared_settings_win_over_the_signature_and_context_is_left_out() -> None:
    class Declared(NoKnob):
        settings = (Setting("levels", int, 2, low=1),)

    class WithContext(NoKnob):
        def __init__(self, levels: int, label_set: str = "camvid", device: str = "auto") -> None:
            super().__init__(levels)

    assert [s.name for s in settings_of(Declared) or []] == ["levels"]
    assert [s.name for s in settings_of(WithContext) or []] == ["levels"]
    assert [s.name for s in settings_of(WithContext, context=()) or []] == ["levels", "label_set", "device"]


def test_the_scenario_docs_name_every_setting_of_every_built_in_component() -> None:
    from pathlib import Path

    import semlink.channel  # noqa: F401  (registers the channel models)
    from semlink.catalog import BUILTIN
    from semlink.channel.base import CHANNELS
    from semlink.codecs import CODECS
    from semlink.metrics import METRICS

    text = (Path(__file__).resolve().parents[1] / "scenarios" / "README.md").read_text()
    declared = [
        (registry.kind, name, setting.name)
        for registry in (CODECS, CHANNELS)
        for name in BUILTIN[registry.kind]  # other tests register plugins by import path
        for setting in settings_of(registry.get(name)) or []
    ]
    declared += [("metric", name, key) for name in BUILTIN["metric"] for key in METRICS.get(name).defaults]
    assert [entry for entry in declared if f"`{entry[2]}`" not in text] == []
