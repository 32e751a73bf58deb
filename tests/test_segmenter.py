"""The shipped segmenters load and score well; user segmenters plug in through the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from semlink.data import CAMVID, CITYSCAPES, open_source
from semlink.vision.checkpoint import CheckpointError
from semlink.vision.exported import NetworkFileError
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


class TinySegmenterNet(torch.nn.Module):
    """Two convolutions: ``[N, 3, H, W]`` in [0, 1] -> ``[N, 19, H, W]`` logits."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 19, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def export_to(path: Path, net: torch.nn.Module, dynamic: bool = True) -> Path:
    """``net`` exported with ``torch.export`` (batch, height and width dynamic unless told) and saved."""
    auto = torch.export.Dim.AUTO
    shapes = ({0: auto, 2: auto, 3: auto},) if dynamic else None
    torch.export.save(torch.export.export(net, (torch.rand(2, 3, 32, 48),), dynamic_shapes=shapes), str(path))
    return path


def test_an_exported_program_segments_as_its_module_does(tmp_path: Path) -> None:
    net = TinySegmenterNet().eval()
    path = export_to(tmp_path / "seg.pt2", net)
    images = np.random.default_rng(1).integers(0, 256, (3, 40, 64, 3), dtype=np.uint8)
    with torch.inference_mode():
        expected = net(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0).argmax(1).numpy()
    for segmenter in (segmenter_for(CITYSCAPES, str(path), "cpu"), SEGMENTERS.create("exported", path=str(path))):
        assert segmenter.label_set is CITYSCAPES
        np.testing.assert_array_equal(segmenter.segment(images), expected)


@pytest.mark.parametrize("content", [None, b"not a torch.export archive\n"])
def test_a_missing_or_broken_program_is_one_line_naming_the_file_and_the_fix(
    content: bytes | None, tmp_path: Path
) -> None:
    path = tmp_path / "seg.pt2"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(NetworkFileError) as error:
        segmenter_for(CITYSCAPES, str(path), "cpu")
    message = str(error.value)
    assert message.startswith(f"segmenter {path} ") and "\n" not in message
    assert "torch.export.save" in message and ("does not exist" if content is None else "does not load") in message


def test_a_program_exported_for_other_shapes_says_how_to_export_it(tmp_path: Path) -> None:
    path = export_to(tmp_path / "fixed.pt2", TinySegmenterNet().eval(), dynamic=False)
    segmenter = segmenter_for(CITYSCAPES, str(path), "cpu")
    with pytest.raises(NetworkFileError, match=r"fixed\.pt2 was not exported for inputs of shape \(1, 3, 16, 16\)"):
        segmenter.segment(np.zeros((1, 16, 16, 3), dtype=np.uint8))


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # the older format, still loaded
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
