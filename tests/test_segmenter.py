"""The shipped segmenters load and score well; user segmenters plug in through the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from semlink.data import CAMVID, CITYSCAPES, open_source
from semlink.vision.checkpoint import CheckpointError
from semlink.vision.metrics import ConfusionMeter
from semlink.vision.net import FastSegNet, SegNetConfig
from semlink.vision.segmenter import CHECKPOINTS, SEGMENTERS, SHIPPED, segmenter_for


def score(segmenter_name: str, data: str, frames: int, **kwargs: object) -> float:
    source = open_source(data, "val", **kwargs)  # type: ignore[arg-type]
    segmenter = segmenter_for(source.label_set, None, "cpu")
    meter = ConfusionMeter(source.label_set)
    batch = list(source.take(frames))
    meter.update(segmenter.segment(np.stack([f.image for f in batch])), np.stack([f.labels for f in batch]))
    return meter.scores().miou


@pytest.mark.parametrize("name", sorted(SHIPPED.values()))
def test_checkpoints_are_shipped_small_with_their_record(name: str) -> None:
    path = CHECKPOINTS / name
    assert path.is_file(), f"{path} is not shipped"
    assert path.stat().st_size < 10_000_000
    record = path.with_suffix(".txt").read_text()
    assert "command: semlink train segmenter" in record and "seed:" in record and "val mIoU" in record


def test_shipped_synthetic_segmenter_scores_well() -> None:
    assert score("shipped", "synthetic", 8) > 0.6


def test_shipped_camvid_segmenter_scores_well(camvid_root: Path) -> None:
    assert score("shipped", "camvid", 8, root=camvid_root) > 0.45


def test_shipped_segmenters_know_their_label_sets() -> None:
    assert SEGMENTERS.create("shipped", label_set="camvid", device="cpu").label_set is CAMVID
    assert SEGMENTERS.create("shipped", label_set="cityscapes", device="cpu").label_set is CITYSCAPES


def test_torchscript_segmenter_plugs_in(tmp_path: Path) -> None:
    net = FastSegNet(SegNetConfig(num_classes=19, widths=(8, 16, 16), decoder=8)).eval()
    path = tmp_path / "seg.ts"
    torch.jit.trace(net, torch.rand(1, 3, 64, 96)).save(str(path))
    segmenter = segmenter_for(CITYSCAPES, str(path), "cpu")
    labels = segmenter.segment(np.zeros((2, 64, 96, 3), dtype=np.uint8))
    assert labels.shape == (2, 64, 96) and labels.dtype == np.uint8


def everything_is_road(images: np.ndarray) -> np.ndarray:
    """A user segmenter for the test below."""
    return np.zeros(images.shape[:3], dtype=np.uint8)


def test_callable_segmenter_plugs_in() -> None:
    segmenter = segmenter_for(CITYSCAPES, "tests.test_segmenter:everything_is_road")
    assert segmenter.segment(np.zeros((1, 8, 8, 3), dtype=np.uint8)).max() == 0


@pytest.mark.parametrize("spec", ["missing.pt", "no_such_module:f", "tests.test_segmenter:nothing"])
def test_bad_segmenter_spec_is_a_clear_error(spec: str) -> None:
    with pytest.raises(CheckpointError):
        segmenter_for(CITYSCAPES, spec)


def test_damaged_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        segmenter_for(CITYSCAPES, str(path))
