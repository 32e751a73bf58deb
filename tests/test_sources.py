"""File-based frame sources, label sets and the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semlink.data import CAMVID, CITYSCAPES, DATASETS, DataError, open_source
from semlink.data.cityscapes import label_ids_to_train_ids, write_cityscapes
from semlink.data.frame import Frame
from semlink.data.imageio import write_png
from semlink.data.labelset import camvid_to_cityscapes, cityscapes_to_camvid
from semlink.registry import UnknownComponentError


def test_registry_lists_sources_and_names_them_on_error() -> None:
    assert {"synthetic", "camvid", "cityscapes", "folder"} <= set(DATASETS.names())
    with pytest.raises(UnknownComponentError, match="choose one of: camvid"):
        DATASETS.get("kitti")


def test_cityscapes_label_ids_map_to_train_ids() -> None:
    label_ids = np.array([[7, 8, 26, 33], [0, 9, 23, 255]], dtype=np.uint8)
    assert label_ids_to_train_ids(label_ids).tolist() == [[0, 1, 13, 18], [255, 255, 10, 255]]


def test_cityscapes_loader_on_a_fake_tree(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 19, (32, 64), dtype=np.uint8)
    blocks[:2] = 255
    labels = np.kron(blocks, np.ones((2, 2), dtype=np.uint8))  # 2x2 blocks survive nearest halving
    image = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    write_cityscapes(tmp_path, "val", "aachen", Frame(0, image, labels))
    write_cityscapes(tmp_path, "val", "bochum", Frame(1, image, labels))
    source = open_source("cityscapes", "val", size=(32, 64), root=tmp_path)
    assert len(source) == 2 and source.label_set is CITYSCAPES
    frame = source.frame(0)
    assert frame.image.shape == (32, 64, 3)
    assert np.array_equal(frame.labels, blocks)


def test_cityscapes_missing_root_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="leftImg8bit"):
        open_source("cityscapes", "val", root=tmp_path / "nowhere")


def test_folder_source(tmp_path: Path) -> None:
    labels = np.full((32, 48), 13, dtype=np.uint8)
    write_png(tmp_path / "images" / "a.png", np.zeros((32, 48, 3), dtype=np.uint8))
    write_png(tmp_path / "labels" / "a.png", labels)
    source = open_source("folder", "", root=tmp_path)
    assert len(source) == 1 and np.array_equal(source.frame(0).labels, labels)


def test_folder_without_labels_is_a_clear_error(tmp_path: Path) -> None:
    write_png(tmp_path / "images" / "a.png", np.zeros((8, 8, 3), dtype=np.uint8))
    (tmp_path / "labels").mkdir()
    with pytest.raises(DataError, match=r"a\.png is missing"):
        open_source("folder", "", root=tmp_path)


def test_label_set_mapping_round_trip() -> None:
    camvid = np.arange(12, dtype=np.uint8).reshape(3, 4)
    camvid[2, 3] = 255
    back = cityscapes_to_camvid(camvid_to_cityscapes(camvid))
    expected = camvid.copy()
    expected[camvid == 11] = 255
    assert np.array_equal(back, expected)
    assert CAMVID.num_classes == 11 and CITYSCAPES.num_classes == 19


def test_camvid_split(camvid_root: Path) -> None:
    source = open_source("camvid", "val", root=camvid_root)
    assert len(source) == 101
    frame = source.frame(0)
    assert frame.image.shape == (360, 480, 3)
    values = set(np.unique(frame.labels).tolist())
    assert values <= set(range(11)) | {255}


def test_camvid_missing_split_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="SEMLINK_CAMVID"):
        open_source("camvid", "val", root=tmp_path)


def test_the_camvid_root_does_not_depend_on_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from semlink.data.camvid import CAMVID_ENV, camvid_candidates, default_camvid_root

    monkeypatch.delenv(CAMVID_ENV, raising=False)
    here = default_camvid_root()
    monkeypatch.chdir(tmp_path)
    assert default_camvid_root() == here
    monkeypatch.setenv(CAMVID_ENV, str(tmp_path / "mine"))
    assert camvid_candidates() == [tmp_path / "mine"]
