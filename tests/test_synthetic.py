"""The procedural driving scenes: determinism, classes, splits, sizes, sequences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from semlink.data import DataError
from semlink.data.synthetic import SyntheticDriving
from semlink.data.synthetic.source import SPLITS


def test_same_seed_and_index_give_identical_bytes() -> None:
    a = SyntheticDriving("val", seed=3).frame(5)
    b = SyntheticDriving("val", seed=3).frame(5)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.labels.tobytes() == b.labels.tobytes()


def test_other_seed_gives_other_scene() -> None:
    a = SyntheticDriving("val", seed=3).frame(5)
    b = SyntheticDriving("val", seed=4).frame(5)
    assert a.labels.tobytes() != b.labels.tobytes()


def test_at_least_17_classes_over_100_frames_and_big_classes_dominate() -> None:
    source = SyntheticDriving("val", size=(128, 256))
    counts = np.zeros(256, dtype=np.int64)
    for frame in source.take(100):
        counts += np.bincount(frame.labels.ravel(), minlength=256)
    assert (counts[:19] > 0).sum() >= 17
    assert counts[19:].sum() == 0
    share = counts[:19] / counts.sum()
    road, building, vegetation, sky, car = share[[0, 2, 8, 10, 13]]
    assert road + building + vegetation + sky + car > 0.6
    assert all(s < 0.03 for s in share[[5, 6, 7, 11]])


def test_small_classes_present_in_most_frames() -> None:
    source = SyntheticDriving("val", size=(128, 256))
    present = np.zeros(19, dtype=np.int64)
    for frame in source.take(40):
        present += np.bincount(frame.labels.ravel(), minlength=256)[:19] > 0
    for train_id in (5, 6, 7, 11):  # pole, traffic light, traffic sign, person
        assert present[train_id] >= 24, f"class {train_id} in only {present[train_id]} of 40 frames"


def test_splits_use_disjoint_scene_ranges() -> None:
    ranges = sorted((start, start + count) for start, count in SPLITS.values())
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert end <= start
    train = SyntheticDriving("train").frame(0)
    val = SyntheticDriving("val").frame(0)
    assert train.labels.tobytes() != val.labels.tobytes()


@pytest.mark.parametrize("size", [(64, 128), (256, 512), (352, 480)])
def test_any_multiple_of_16(size: tuple[int, int]) -> None:
    frame = SyntheticDriving("val", size=size).frame(0)
    assert frame.image.shape == (*size, 3) and frame.image.dtype == np.uint8
    assert frame.labels.shape == size and frame.labels.dtype == np.uint8


@pytest.mark.parametrize("size", [(250, 512), (256, 500), (16, 16)])
def test_bad_size_is_rejected(size: tuple[int, int]) -> None:
    with pytest.raises(DataError, match="multiples of 16"):
        SyntheticDriving("val", size=size)


def test_unknown_split_is_rejected() -> None:
    with pytest.raises(DataError, match="choose one of"):
        SyntheticDriving("holdout")


def test_sequence_frames_are_coherent() -> None:
    source = SyntheticDriving("val", size=(128, 256), sequence=10)
    first, second = source.frame(0), source.frame(1)
    other_drive = source.frame(10)
    same = (first.labels == second.labels).mean()
    different = (first.labels == other_drive.labels).mean()
    assert same > 0.75
    assert same > different + 0.1
    assert second.time_s == pytest.approx(0.1)
