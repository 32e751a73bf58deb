"""The segmenter network, its Lightning module, resumable legs, the held-out split and the crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semlink.data.labelset import CITYSCAPES
from semlink.data.subset import Subset
from semlink.data.synthetic import SyntheticDriving
from semlink.training import (
    HOLDOUT_GUARD,
    WARMUP,
    EvalSets,
    LegClock,
    class_weights,
    cosine_factor,
    drive_of,
    holdout_split,
    leg_peak_lr,
    load_all,
    selection_split,
)
from semlink.vision.augment import CropStream
from semlink.vision.checkpoint import CheckpointError, load_resume
from semlink.vision.net import FastSegNet, SegNetConfig
from semlink.vision.train import SegmenterModule, TrainSettings, train_segmenter


def test_network_keeps_the_frame_size_for_any_input() -> None:
    net = FastSegNet(SegNetConfig(num_classes=11, widths=(8, 16, 16), decoder=8)).eval()
    with torch.no_grad():
        for height, width in ((64, 128), (90, 120)):
            assert net(torch.rand(2, 3, height, width)).shape == (2, 11, height, width)


def test_class_weights_favour_rare_classes() -> None:
    labels = np.zeros((10, 10), dtype=np.uint8)
    labels[0, :2] = 5
    labels[9, 9] = 255
    weights = class_weights(labels, CITYSCAPES)
    assert weights[5] > weights[0]
    assert float(weights.mean()) == 1.0 or abs(float(weights.mean()) - 1.0) < 1e-5


def test_crops_have_the_asked_size_and_valid_labels() -> None:
    images, labels = load_all(SyntheticDriving("train", size=(64, 128)), limit=2)
    stream = iter(CropStream(images, labels, crop=(48, 80), seed=1))
    for _ in range(4):
        image, crop_labels = next(stream)
        assert image.shape == (3, 48, 80) and crop_labels.shape == (48, 80)
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
        assert set(crop_labels.unique().tolist()) <= set(range(19)) | {255}


def test_loss_falls_over_a_few_steps_on_tiny_frames() -> None:
    torch.manual_seed(0)
    images, labels = load_all(SyntheticDriving("train", size=(64, 128)), limit=2)
    config = SegNetConfig(num_classes=19, widths=(8, 16, 32), decoder=16)
    module = SegmenterModule(config, class_weights(labels, CITYSCAPES), 255, lr=1e-2, total_steps=30)
    setup = module.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    y = torch.from_numpy(labels).long()
    losses = []
    for step in range(30):
        optimizer.zero_grad()
        loss = module.training_step((x, y), step)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_holdout_blocks_are_disjoint_from_training_and_stable() -> None:
    names = [
        f"{drive}_{i:06d}.png"
        for drive, count in (("0001TP", 40), ("0006R0", 60), ("0016E5", 100))
        for i in range(count)
    ]
    train, held = holdout_split(names)
    assert not set(train) & set(held)
    assert holdout_split(names) == (train, held)
    assert holdout_split(list(reversed(names)))[1] == sorted(len(names) - 1 - i for i in held)
    assert len(held) == round(0.15 * 40) + round(0.15 * 60) + round(0.15 * 100)
    assert {drive_of(names[i]) for i in held} == {"0001TP", "0006R0", "0016E5"}
    # Guard frames: no training frame is within two frames of a held-out one of its drive.
    assert all(abs(t - h) > HOLDOUT_GUARD for t in train for h in held if drive_of(names[t]) == drive_of(names[h]))


def test_camvid_holdout_is_a_fixed_part_of_train(camvid_root: Path) -> None:
    train, held, note = selection_split("camvid", None, str(camvid_root), seed=5)
    assert len(held) == 55 and "held-out" in note
    train_files = {train.source.images[i].name for i in train.indices}  # type: ignore[attr-defined]
    held_files = {held.source.images[i].name for i in held.indices}  # type: ignore[attr-defined]
    assert not train_files & held_files
    assert selection_split("camvid", None, str(camvid_root), seed=9)[1].indices == held.indices  # type: ignore[attr-defined]


def test_crop_stream_state_continues_the_same_crops() -> None:
    images, labels = load_all(SyntheticDriving("train", size=(64, 128)), limit=3)
    stream = CropStream(images, labels, crop=(32, 48), seed=4, focus=(5, 11), focus_share=0.5, strong=True)
    stream.draw()
    state = stream.state()
    expected = [stream.draw() for _ in range(3)]
    again = CropStream(images, labels, crop=(32, 48), seed=99, focus=(5, 11), focus_share=0.5, strong=True)
    again.restore(state)
    for (image, crop_labels), (image2, labels2) in zip(expected, [again.draw() for _ in range(3)], strict=True):
        assert torch.equal(image, image2) and torch.equal(crop_labels, labels2)


def test_focus_crops_contain_their_class() -> None:
    images, labels = load_all(SyntheticDriving("train", size=(64, 128)), limit=4)
    present = [c for c in range(19) if (labels == c).any()]
    rare = min(present, key=lambda c: int((labels == c).sum()))
    stream = CropStream(images, labels, crop=(24, 32), seed=2, focus=(rare,), focus_share=1.0)
    assert all(bool((stream.draw()[1] == rare).any()) for _ in range(10))


def test_leg_schedule_warms_up_decays_and_restarts_lower() -> None:
    assert cosine_factor(0.0) < 0.01 and cosine_factor(WARMUP) == 1.0 and cosine_factor(1.0) == 0.0
    assert cosine_factor(0.5) > cosine_factor(0.8)
    assert leg_peak_lr(3e-3, 1) == 3e-3 and leg_peak_lr(3e-3, 3) == 3e-3 / 4
    clock = LegClock(total_steps=10)
    assert clock.progress(5) == 0.5 and clock.factor(10) == 0.0


def tiny_run(tmp_path: Path) -> tuple[SyntheticDriving, EvalSets, TrainSettings]:
    train = SyntheticDriving("train", size=(48, 96))
    sets = EvalSets(Subset(SyntheticDriving("train", size=(48, 96), seed=7), 3), Subset(train, 3), "tiny")
    settings = TrainSettings(epochs=2, crop=(32, 64), batch=4, lr=1e-2, seed=1, widths=(8, 8, 16), decoder=8)
    return train, sets, settings


def train_loss(checkpoint: Path, images: np.ndarray, labels: np.ndarray) -> float:
    net = FastSegNet(SegNetConfig(19, (8, 8, 16), 8))
    net.load_state_dict(load_resume(checkpoint, "segmenter")["net"])
    net.eval()
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
        return float(F.cross_entropy(net(x), torch.from_numpy(labels).long(), ignore_index=255))


def test_a_resumed_run_continues_its_steps_and_its_loss_keeps_falling(tmp_path: Path) -> None:
    source, sets, settings = tiny_run(tmp_path)
    train = Subset(source, 20)
    images, labels = load_all(train)
    first = tmp_path / "seg.pt"
    train_segmenter(train, sets, settings, first, "semlink train segmenter --leg 1")
    after_one = train_loss(first, images, labels)
    assert load_resume(first, "segmenter")["step"] == 10
    second = tmp_path / "seg2.pt"
    train_segmenter(train, sets, settings, second, "semlink train segmenter --leg 2", resume=first)
    state = load_resume(second, "segmenter")
    assert state["step"] == 20 and [leg["steps"] for leg in state["legs"]] == [10, 20]
    assert train_loss(second, images, labels) < after_one
    record = second.with_suffix(".txt").read_text()
    assert "leg 1:" in record and "leg 2:" in record and "--leg 1" in record and "--leg 2" in record
    assert "held-out mIoU (selected net)" in record and "val mIoU" in record and "pole:" in record


def test_resuming_without_a_resume_state_names_the_file_and_the_fix(tmp_path: Path) -> None:
    checkpoint = tmp_path / "seg.pt"
    checkpoint.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"seg\.resume is missing.*without --resume"):
        load_resume(checkpoint, "segmenter")
