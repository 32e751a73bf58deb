"""The segmenter network and its Lightning module."""

from __future__ import annotations

import numpy as np
import torch

from semlink.data.labelset import CITYSCAPES
from semlink.data.synthetic import SyntheticDriving
from semlink.vision.augment import CropStream
from semlink.vision.net import FastSegNet, SegNetConfig
from semlink.vision.train import SegmenterModule, class_weights, load_all


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
