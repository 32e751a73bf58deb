"""The metrics registry: each metric on hand-made frames, weights, JSON round trips, building and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.linalg
import torch

from semlink.data.labelset import LabelSet
from semlink.metrics import DEFAULT_METRICS, METRICS, NEEDS, FrameSample, Metric, build_metrics
from semlink.registry import UnknownComponentError
from semlink.vision.exported import EXPORT_HOW
from semlink.vision.metrics import ConfusionMeter, ms_ssim, psnr

THREE = LabelSet("three", ("a", "b", "c"), ((0, 0, 0), (1, 1, 1), (2, 2, 2)))
ALL_METRICS = (*DEFAULT_METRICS, "lpips", "fid")

# torch >= 2.10 deprecates TorchScript, the format the perceptual metrics load.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


class SquaredDistance(torch.nn.Module):
    """A stand-in LPIPS: mean squared difference per image, ``[N]``."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((x - y) ** 2).mean(dim=(1, 2, 3))


class TinyFeatures(torch.nn.Module):
    """A stand-in Inception: a fixed 1x1 conv, then mean and spread per channel, ``[N, 8]``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.linspace(-1.0, 1.0, 12).reshape(4, 3, 1, 1))
            self.conv.bias.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.tanh(self.conv(x))
        return torch.cat([maps.mean(dim=(2, 3)), maps.std(dim=(2, 3))], dim=1)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small TorchScript weights for lpips and fid, made here."""
    folder = tmp_path_factory.mktemp("weights")
    paths = {"lpips": folder / "lpips.pt", "fid": folder / "fid.pt"}
    torch.jit.script(SquaredDistance()).save(str(paths["lpips"]))
    torch.jit.script(TinyFeatures()).save(str(paths["fid"]))
    return paths


def make(name: str, weights: dict[str, Path]) -> Metric:
    """The metric ``name`` on :data:`THREE`, with test weights where it needs them."""
    spec: dict[str, Any] = {"name": name}
    if name in weights:
        spec["weights"] = str(weights[name])
    return build_metrics([spec], THREE)[0]


def sample(
    image: np.ndarray,
    recon: np.ndarray,
    labels: np.ndarray | None = None,
    prediction: np.ndarray | None = None,
    latency_ms: float | None = 10.0,
    complete: bool = True,
    concealed: bool = False,
) -> FrameSample:
    """A frame sample; labels and prediction default to all class 0."""
    zeros = np.zeros(image.shape[:2], dtype=np.uint8)
    return FrameSample(
        index=0,
        image=image,
        recon=recon,
        labels=zeros if labels is None else labels,
        prediction=zeros if prediction is None else prediction,
        latency_ms=latency_ms,
        packets_received=1,
        complete=complete,
        concealed=concealed,
    )


def random_frames(count: int, side: int = 16, seed: int = 0) -> list[FrameSample]:
    """Random frames with ignored labels, out-of-range predictions, exact and concealed frames."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        noise = rng.integers(-40, 41, image.shape)
        recon = image if i == 1 else np.clip(image + noise, 0, 255).astype(np.uint8)
        labels = rng.choice(np.array([0, 1, 2, 255], dtype=np.uint8), (side, side), p=[0.5, 0.3, 0.1, 0.1])
        prediction = np.where(rng.random((side, side)) < 0.7, labels, rng.integers(0, 3, (side, side)))
        prediction = np.where(rng.random((side, side)) < 0.05, 200, prediction).astype(np.uint8)
        timed = i % 3 != 2
        frames.append(
            FrameSample(i, image, recon, labels, prediction, 5.0 + 3.0 * i if timed else None, 4, i % 2 == 0, not timed)
        )
    return frames


def scored(metric: Metric, frames: list[FrameSample], weights: list[float] | None = None) -> dict[str, float]:
    """The metric's result over ``frames`` (unit weights by default)."""
    values = [metric.frame(f) for f in frames]
    w = np.ones(len(frames)) if weights is None else np.asarray(weights, dtype=np.float64)
    return metric.result(values, w)


def assert_same(a: dict[str, float], b: dict[str, float], exact: bool = True) -> None:
    """Equal results, NaN equal to NaN."""
    assert list(a) == list(b)
    for key in a:
        if math.isnan(a[key]):
            assert math.isnan(b[key]), key
        elif exact:
            assert a[key] == b[key], key
        else:
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-9), key


# --- every metric -------------------------------------------------------------------------


def test_registry_holds_every_metric_and_the_defaults() -> None:
    assert set(ALL_METRICS) <= set(METRICS.names())
    assert DEFAULT_METRICS == ("miou", "pixel_accuracy", "psnr", "ms_ssim", "latency", "delivery")


@pytest.mark.parametrize("name", ALL_METRICS)
def test_class_declares_its_name_and_needs(name: str) -> None:
    cls: Any = METRICS.get(name)
    assert cls.name == name
    assert cls.needs and cls.needs <= NEEDS
    assert cls.__doc__ and "Column" in cls.__doc__


@pytest.mark.parametrize("name", ALL_METRICS)
def test_result_has_one_float_per_column(name: str, weights: dict[str, Path]) -> None:
    metric = make(name, weights)
    result = scored(metric, random_frames(5))
    assert tuple(result) == metric.columns()
    assert all(isinstance(v, float) for v in result.values())


@pytest.mark.parametrize("name", ALL_METRICS)
def test_weight_two_equals_a_duplicated_frame(name: str, weights: dict[str, Path]) -> None:
    metric = make(name, weights)
    frames = random_frames(5)
    duplicated = scored(metric, [*frames, frames[3]])
    assert_same(scored(metric, frames, [1, 1, 1, 2, 1]), duplicated, exact=False)


@pytest.mark.parametrize("name", ALL_METRICS)
def test_zero_weight_drops_a_frame(name: str, weights: dict[str, Path]) -> None:
    metric = make(name, weights)
    frames = random_frames(5)
    assert_same(scored(metric, frames, [1, 1, 0, 1, 1]), scored(metric, frames[:2] + frames[3:]))


@pytest.mark.parametrize("name", ALL_METRICS)
def test_frame_values_round_trip_through_json(name: str, weights: dict[str, Path]) -> None:
    metric = make(name, weights)
    values = [metric.frame(f) for f in random_frames(5)]
    back = json.loads(json.dumps(values, allow_nan=False))
    w = np.array([1.0, 2.0, 0.0, 1.0, 3.0])
    assert_same(metric.result(back, w), metric.result(values, w))


@pytest.mark.parametrize("name", ALL_METRICS)
def test_describe_gives_name_and_resolved_settings(name: str, weights: dict[str, Path]) -> None:
    described = make(name, weights).describe()
    assert described["name"] == name
    json.dumps(described)
    if name in weights:
        assert described == {"name": name, "weights": str(weights[name]), "device": "cpu"}


@pytest.mark.parametrize("name", ALL_METRICS)
def test_wrong_number_of_weights_is_rejected(name: str, weights: dict[str, Path]) -> None:
    metric = make(name, weights)
    values = [metric.frame(f) for f in random_frames(3)]
    with pytest.raises(ValueError, match="weights"):
        metric.result(values, np.ones(2))


# --- task metrics -------------------------------------------------------------------------


def halves() -> FrameSample:
    """8x8: truth rows 0-3 class a, 4-7 class b; predicted a, b (rows 4-5) and c (rows 6-7)."""
    labels = np.repeat(np.array([0, 1], dtype=np.uint8), 32).reshape(8, 8)
    prediction = np.repeat(np.array([0, 1, 2], dtype=np.uint8), [32, 16, 16]).reshape(8, 8)
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    return sample(image, image, labels, prediction)


def test_miou_of_a_known_confusion() -> None:
    metric = METRICS.create("miou", label_set=THREE)
    assert metric.columns() == ("miou", "iou_a", "iou_b", "iou_c")
    assert metric.frame(halves()) == [[0, 0, 32], [1, 1, 16], [1, 2, 16]]
    # IoU a = 32/32, b = 16/32, c = 0/16.
    assert scored(metric, [halves()]) == {"miou": 0.5, "iou_a": 1.0, "iou_b": 0.5, "iou_c": 0.0}


def test_miou_ignores_ignored_pixels_and_counts_out_of_range_predictions_wrong() -> None:
    metric = METRICS.create("miou", label_set=THREE)
    labels = np.array([[0, 0, 255, 255], [1, 1, 1, 1]], dtype=np.uint8)
    prediction = np.array([[0, 9, 2, 2], [1, 1, 200, 1]], dtype=np.uint8)
    image = np.zeros((2, 4, 3), dtype=np.uint8)
    assert metric.frame(sample(image, image, labels, prediction)) == [[0, 0, 1], [0, 1, 1], [1, 1, 3], [1, 2, 1]]


def test_miou_class_absent_everywhere_is_nan_and_left_out() -> None:
    labels = np.repeat(np.array([0, 1], dtype=np.uint8), 32).reshape(8, 8)
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    result = scored(METRICS.create("miou", label_set=THREE), [sample(image, image, labels, labels)])
    assert result["miou"] == 1.0 and math.isnan(result["iou_c"])


def test_miou_of_no_frames_is_nan() -> None:
    result = METRICS.create("miou", label_set=THREE).result([], np.ones(0))
    assert all(math.isnan(v) for v in result.values())


def test_pixel_accuracy_of_a_known_confusion() -> None:
    metric = METRICS.create("pixel_accuracy", label_set=THREE)
    assert metric.frame(halves()) == [48, 64]
    assert scored(metric, [halves()]) == {"pixel_accuracy": 0.75}
    assert math.isnan(metric.result([], np.ones(0))["pixel_accuracy"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_task_metrics_equal_the_confusion_meter(seed: int) -> None:
    frames = random_frames(7, side=12, seed=seed)
    meter = ConfusionMeter(THREE)
    for frame in frames:
        meter.update(frame.prediction, frame.labels)
    expected = meter.scores()
    miou = scored(METRICS.create("miou", label_set=THREE), frames)
    assert miou["miou"] == expected.miou
    assert_same(dict(zip(["a", "b", "c"], expected.class_iou, strict=True)), {c: miou[f"iou_{c}"] for c in "abc"})
    accuracy = scored(METRICS.create("pixel_accuracy", label_set=THREE), frames)
    assert accuracy["pixel_accuracy"] == expected.pixel_accuracy


def test_task_metrics_with_weights_equal_the_meter_over_repeated_frames() -> None:
    frames = random_frames(4, side=12, seed=5)
    counts = [2, 0, 1, 3]
    meter = ConfusionMeter(THREE)
    for frame, count in zip(frames, counts, strict=True):
        for _ in range(count):
            meter.update(frame.prediction, frame.labels)
    assert scored(METRICS.create("miou", label_set=THREE), frames, counts)["miou"] == meter.scores().miou
    accuracy = scored(METRICS.create("pixel_accuracy", label_set=THREE), frames, counts)
    assert accuracy["pixel_accuracy"] == meter.scores().pixel_accuracy


# --- image metrics ------------------------------------------------------------------------


def test_psnr_of_a_known_mse() -> None:
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    recon = np.full((8, 8, 3), 16, dtype=np.uint8)  # MSE 256
    expected = 10.0 * math.log10(255.0**2 / 256.0)
    metric = METRICS.create("psnr", label_set=THREE)
    assert metric.frame(sample(image, recon)) == pytest.approx(expected)
    assert metric.frame(sample(image, image)) is None


@pytest.mark.parametrize("exact", [[], [0], [0, 2], [0, 1, 2, 3]])
def test_psnr_mean_counts_exact_frames_as_100_db(exact: list[int]) -> None:
    frames = random_frames(4)
    frames = [sample(f.image, f.image if i in exact else f.recon) for i, f in enumerate(frames)]
    result = scored(METRICS.create("psnr", label_set=THREE), frames)["psnr"]
    values = [psnr(f.image, f.recon) for f in frames]
    expected = math.inf if len(exact) == 4 else float(np.mean([min(v, 100.0) for v in values]))
    assert result == expected


def test_psnr_all_exact_is_inf_and_no_frames_nan() -> None:
    metric = METRICS.create("psnr", label_set=THREE)
    assert metric.result([None, None, 30.0], np.array([1.0, 2.0, 0.0])) == {"psnr": math.inf}
    assert metric.result([None, 30.0], np.array([1.0, 1.0])) == {"psnr": 65.0}
    assert math.isnan(metric.result([], np.ones(0))["psnr"])


def test_ms_ssim_is_the_vision_function_averaged() -> None:
    frames = random_frames(3, side=24)
    metric = METRICS.create("ms_ssim", label_set=THREE)
    expected = [ms_ssim(f.image, f.recon) for f in frames]
    assert [metric.frame(f) for f in frames] == expected
    assert scored(metric, frames, [1, 3, 0])["ms_ssim"] == pytest.approx((expected[0] + 3 * expected[1]) / 4)
    assert metric.frame(frames[1]) == pytest.approx(1.0)  # frame 1 is exact


def test_ms_ssim_of_a_frame_too_small_is_none() -> None:
    metric = METRICS.create("ms_ssim", label_set=THREE)
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    assert metric.frame(sample(image, image)) is None
    assert math.isnan(metric.result([None], np.ones(1))["ms_ssim"])


# --- link metrics -------------------------------------------------------------------------


def test_latency_percentiles() -> None:
    metric = METRICS.create("latency", label_set=THREE)
    assert metric.columns() == ("latency_ms_p50", "latency_ms_p95")
    values = [10.0, 20.0, 30.0, 40.0, None]
    result = metric.result(values, np.ones(5))
    assert result == {"latency_ms_p50": 25.0, "latency_ms_p95": pytest.approx(38.5)}
    weighted = metric.result(values, np.array([1.0, 0.0, 0.0, 3.0, 5.0]))  # 10, 40, 40, 40
    assert weighted == {"latency_ms_p50": 40.0, "latency_ms_p95": 40.0}


def test_latency_frame_value_and_no_timed_frames() -> None:
    metric = METRICS.create("latency", label_set=THREE)
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    assert metric.frame(sample(image, image, latency_ms=12.5)) == 12.5
    assert metric.frame(sample(image, image, latency_ms=None)) is None
    assert all(math.isnan(v) for v in metric.result([None, None], np.ones(2)).values())


def test_latency_rejects_fractional_weights() -> None:
    with pytest.raises(ValueError, match="whole-number"):
        METRICS.create("latency", label_set=THREE).result([1.0, 2.0], np.array([0.5, 1.0]))


def test_delivery_counts() -> None:
    metric = METRICS.create("delivery", label_set=THREE)
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    frames = [
        sample(image, image, complete=True),
        sample(image, image, complete=False),
        sample(image, image, complete=False, concealed=True),
    ]
    assert [metric.frame(f) for f in frames] == [[1, 0], [0, 0], [0, 1]]
    assert scored(metric, frames) == {"frames_complete": 1.0, "frames_concealed": 1.0}
    assert scored(metric, frames, [3, 1, 2]) == {"frames_complete": 3.0, "frames_concealed": 2.0}


# --- perceptual metrics -------------------------------------------------------------------


def test_lpips_runs_the_given_network(weights: dict[str, Path]) -> None:
    metric = make("lpips", weights)
    black = np.zeros((8, 8, 3), dtype=np.uint8)
    white = np.full((8, 8, 3), 255, dtype=np.uint8)
    assert metric.frame(sample(black, white)) == 4.0  # -1 against 1, squared
    assert metric.frame(sample(black, black)) == 0.0
    assert metric.result([4.0, 0.0], np.array([1.0, 3.0])) == {"lpips": 1.0}


def test_fid_features_are_rounded_pairs(weights: dict[str, Path]) -> None:
    metric = make("fid", weights)
    value = metric.frame(random_frames(1)[0])
    assert len(value) == 2 and all(len(row) == 8 for row in value)
    assert all(v == float(f"{v:.6g}") for row in value for v in row)


def test_fid_equals_the_frechet_distance_of_numpy_fits(weights: dict[str, Path]) -> None:
    metric = make("fid", weights)
    values = [metric.frame(f) for f in random_frames(12)]
    features = np.array(values)
    real, fake = features[:, 0], features[:, 1]
    cov_real, cov_fake = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(cov_real @ cov_fake))
    diff = real.mean(0) - fake.mean(0)
    expected = diff @ diff + np.trace(cov_real + cov_fake - 2 * root)
    assert metric.result(values, np.ones(12))["fid"] == pytest.approx(expected, rel=1e-6)
    assert expected > 0


def test_fid_of_identical_sets_is_zero_and_of_one_frame_nan(weights: dict[str, Path]) -> None:
    metric = make("fid", weights)
    frames = [sample(f.image, f.image) for f in random_frames(12)]
    values = [metric.frame(f) for f in frames]
    assert metric.result(values, np.ones(12))["fid"] == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(metric.result(values[:1], np.ones(1))["fid"])
    assert math.isnan(metric.result(values[:3], np.array([1.0, 0.0, 0.0]))["fid"])


@pytest.mark.parametrize(
    ("name", "help_text"),
    [
        ("lpips", "a torch.export .pt2 file mapping two [N,3,H,W] images in [-1,1] to [N] distances"),
        ("fid", "a torch.export .pt2 file mapping [N,3,H,W] images in [0,1] to [N,D] features"),
    ],
)
def test_perceptual_metric_without_weights_says_what_to_give(name: str, help_text: str) -> None:
    with pytest.raises(ValueError) as error:
        build_metrics([name], THREE)
    assert str(error.value) == f"metric {name} needs weights: PATH ({help_text}); nothing is downloaded"


@pytest.mark.parametrize("name", ["lpips", "fid"])
def test_perceptual_metric_with_a_missing_file_names_the_path(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(ValueError) as error:
        build_metrics([{"name": name, "weights": str(missing)}], THREE)
    assert str(error.value) == f"metric {name}: weights {missing} does not exist; {EXPORT_HOW}"


@pytest.mark.parametrize("name", ["lpips", "fid"])
def test_perceptual_metric_with_an_unloadable_file_names_the_path(name: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a TorchScript archive\n" * 4)
    with pytest.raises(ValueError) as error:
        build_metrics([{"name": name, "weights": str(junk)}], THREE)
    message = str(error.value)
    assert message.startswith(f"metric {name}: weights {junk} does not load as TorchScript (")
    assert message.endswith(EXPORT_HOW)
    assert "\n" not in message


# --- building -----------------------------------------------------------------------------


def test_build_metrics_from_names_and_dicts(weights: dict[str, Path]) -> None:
    metrics = build_metrics(["psnr", {"name": "miou"}, {"name": "lpips", "weights": str(weights["lpips"])}], THREE)
    assert [m.name for m in metrics] == ["psnr", "miou", "lpips"]
    assert all(m.label_set == THREE for m in metrics)


def test_default_metrics_build_and_their_columns() -> None:
    columns = [c for m in build_metrics(DEFAULT_METRICS, THREE) for c in m.columns()]
    assert columns == [
        "miou",
        "iou_a",
        "iou_b",
        "iou_c",
        "pixel_accuracy",
        "psnr",
        "ms_ssim",
        "latency_ms_p50",
        "latency_ms_p95",
        "frames_complete",
        "frames_concealed",
    ]


def test_unknown_metric_gives_the_registry_error() -> None:
    with pytest.raises(UnknownComponentError) as error:
        build_metrics(["psnr", "nope"], THREE)
    assert str(error.value).startswith("unknown metric 'nope'; choose one of: delivery, fid,")


@pytest.mark.parametrize("spec", [{"name": "psnr", "window": 3}, {"name": "lpips", "weight": "x.pt"}])
def test_unknown_setting_names_metric_and_setting(spec: dict[str, Any]) -> None:
    setting = next(k for k in spec if k != "name")
    with pytest.raises(ValueError, match=f"metric {spec['name']} has no setting '{setting}'"):
        build_metrics([spec], THREE)


def test_entry_without_a_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        build_metrics([{"weights": "x.pt"}], THREE)


def test_two_metrics_writing_one_column_are_rejected() -> None:
    with pytest.raises(ValueError, match="both write column 'psnr'"):
        build_metrics(["psnr", "psnr"], THREE)
