"""map_consistency: the segmenter's view of the reconstruction against the sent map, on hand-made cases."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from semlink.data.frame import Frame
from semlink.data.labelset import LabelSet
from semlink.metrics import METRICS, FrameSample, build_metrics
from semlink.receiver.evaluator import Evaluator
from semlink.vision.segmenter import CallableSegmenter

THREE = LabelSet("three", ("a", "b", "c"), ((0, 0, 0), (1, 1, 1), (2, 2, 2)))


def sample(sent: list[list[int]] | None, seen: list[list[int]], labels: int = 255) -> FrameSample:
    """A frame whose segmenter labels of the recon are ``seen`` and whose sent map is ``sent``;
    its ground truth is all ``labels`` (ignored by default: the metric must not read it)."""
    prediction = np.array(seen, dtype=np.uint8)
    image = np.zeros((*prediction.shape, 3), dtype=np.uint8)
    return FrameSample(
        index=0,
        image=image,
        recon=image,
        labels=np.full(prediction.shape, labels, dtype=np.uint8),
        prediction=prediction,
        latency_ms=None,
        packets_received=1,
        complete=True,
        concealed=False,
        sent_map=None if sent is None else np.array(sent, dtype=np.uint8),
    )


def score(frames: list[FrameSample]) -> dict[str, float]:
    (metric,) = build_metrics(["map_consistency"], THREE)
    return metric.result([metric.frame(f) for f in frames], np.ones(len(frames)))


def test_a_reconstruction_that_shows_the_sent_map_is_fully_consistent() -> None:
    result = score([sample([[0, 1, 2, 2]], [[0, 1, 2, 2]])])
    assert result["map_consistency"] == 1.0
    assert list(result) == ["map_consistency", "map_consistency_a", "map_consistency_b", "map_consistency_c"]


def test_consistency_is_per_class_iou_against_the_sent_map_not_the_truth() -> None:
    # sent a a b b; seen a b b b: a 1/2, b 2/3, c absent from both.
    result = score([sample([[0, 0, 1, 1]], [[0, 1, 1, 1]], labels=0)])
    assert result["map_consistency_a"] == pytest.approx(0.5)
    assert result["map_consistency_b"] == pytest.approx(2 / 3)
    assert math.isnan(result["map_consistency_c"])
    assert result["map_consistency"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_frames_combine_into_one_confusion() -> None:
    frames = [sample([[0, 0]], [[0, 0]]), sample([[0, 1]], [[1, 1]])]
    # a: 2 hit of (3 sent + 2 seen - 2) -> 2/3; b: 1 of (1 + 2 - 1) -> 1/2
    assert score(frames)["map_consistency"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_a_sample_without_the_sent_map_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="needs the sent map"):
        score([sample(None, [[0]])])


def test_the_metric_declares_it_needs_the_map() -> None:
    assert METRICS.get("map_consistency").needs == frozenset({"map"})


@dataclass
class Fate:
    frame: int
    packets_received: int = 1
    complete: bool = True
    concealed: bool = False
    latency_ms: float | None = None


def bright(images: np.ndarray) -> np.ndarray:
    """Class 1 where bright, 0 elsewhere."""
    return (images.mean(axis=-1) > 127).astype(np.uint8)


def test_the_evaluator_scores_the_recon_against_the_segmented_original() -> None:
    segmenter = CallableSegmenter(bright, THREE)
    metrics = build_metrics(["map_consistency", "miou"], THREE)
    evaluator = Evaluator(segmenter, THREE, metrics, batch=2)
    original = np.zeros((2, 4, 3), dtype=np.uint8)
    original[:, :2] = 255  # the sent map: 1 1 0 0
    recon = np.zeros_like(original)
    recon[:, :1] = 255  # seen: 1 0 0 0
    labels = np.full((2, 4), 2, dtype=np.uint8)  # the truth is another class altogether
    for index in range(2):
        evaluator.add(Frame(index, original, labels), recon, Fate(index))
    values = evaluator.values([Fate(0), Fate(1)])
    consistency = metrics[0].result(values["map_consistency"], np.ones(2))
    assert consistency["map_consistency_b"] == pytest.approx(0.5)  # 1 of 2 sent bright pixels
    assert consistency["map_consistency_a"] == pytest.approx(2 / 3)
    assert metrics[1].result(values["miou"], np.ones(2))["miou"] == 0.0
