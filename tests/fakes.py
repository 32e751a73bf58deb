"""Stand-ins that tests plug in through the public extension points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from semlink.codecs.base import Bitstream
from semlink.codecs.pillow_codecs import JpegCodec


def brightness_segmenter(images: np.ndarray) -> np.ndarray:
    """A cheap deterministic 'segmenter': dark pixels road (0), bright pixels sky (10)."""
    return np.where(images.mean(axis=-1) > 127, 10, 0).astype(np.uint8)


THREADS_DIR_ENV = "SEMLINK_TEST_THREADS_DIR"


def thread_reporting_segmenter(images: np.ndarray) -> np.ndarray:
    """:func:`brightness_segmenter` that notes, in ``$SEMLINK_TEST_THREADS_DIR/<pid>``, torch's thread
    count and ``OMP_NUM_THREADS`` in the process that calls it."""
    import os

    folder = os.environ.get(THREADS_DIR_ENV)
    if folder:
        note = f"{torch.get_num_threads()} {os.environ.get('OMP_NUM_THREADS', '')}"
        (Path(folder) / str(os.getpid())).write_text(note)
    return brightness_segmenter(images)


def tiny_codec_checkpoint(path: Path, num_classes: int = 19, seed: int = 0) -> Path:
    """A small, untrained semantic codec checkpoint (random weights, a map model fitted on
    synthetic-like maps): enough to test bitstreams, chunk loss and rates, not image quality."""
    from semlink.codecs.semantic.checkpoint import save_codec
    from semlink.codecs.semantic.map_coder import fit_map_model
    from semlink.codecs.semantic.net import CodecNetConfig, SemanticCodecNet
    from semlink.data.labelset import CAMVID, CITYSCAPES

    torch.manual_seed(seed)
    config = CodecNetConfig(num_classes, codes=64, code_dim=8, width=32, gen_widths=(16, 16, 8), spade_hidden=8, head=8)
    net = SemanticCodecNet(config).eval()
    maps = blocky_maps(4, (64, 128), num_classes, seed)
    label_set = CITYSCAPES if num_classes == CITYSCAPES.num_classes else CAMVID
    save_codec(path, net, label_set, fit_map_model(maps, num_classes), {"command": "tests.fakes"})
    return path


def blocky_maps(n: int, shape: tuple[int, int], num_classes: int, seed: int = 0) -> np.ndarray:
    """``[n, H, W]`` label maps made of a few rectangles, like coarse driving scenes."""
    rng = np.random.default_rng(seed)
    maps = np.zeros((n, *shape), dtype=np.uint8)
    for frame in maps:
        frame[:] = rng.integers(num_classes)
        for _ in range(8):
            top, left = rng.integers(shape[0]), rng.integers(shape[1])
            frame[top : top + rng.integers(4, 32), left : left + rng.integers(4, 64)] = rng.integers(num_classes)
    return maps


def slow_segmenter(images: np.ndarray) -> np.ndarray:
    """:func:`brightness_segmenter` taking 1.5 s a call: a node busy with frame work."""
    import time

    time.sleep(1.5)
    return brightness_segmenter(images)


class SlowJpeg(JpegCodec):
    """JPEG whose encoder takes 0.2 s a frame: a transmitter still sending when the first row is written."""

    def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
        """JPEG's bitstream, after a pause."""
        import time

        time.sleep(0.2)
        return super().compress(image, ssm)
