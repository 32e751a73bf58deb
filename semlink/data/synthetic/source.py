"""The ``synthetic`` frame source: procedural driving scenes, deterministic by (seed, index)."""

from __future__ import annotations

import numpy as np

from semlink.data.frame import DataError, Frame, FrameSource
from semlink.data.labelset import CITYSCAPES
from semlink.data.sources import DATASETS
from semlink.data.synthetic import effects
from semlink.data.synthetic.canvas import Camera, Canvas
from semlink.data.synthetic.draw import draw_ground, draw_thing
from semlink.data.synthetic.generate import make_world
from semlink.data.synthetic.world import SKY, World

# Disjoint scene-number ranges per split, so no scene is in two splits.
SPLITS = {"train": (0, 2975), "val": (1_000_000, 500), "test": (2_000_000, 1525)}


@DATASETS.register("synthetic")
class SyntheticDriving(FrameSource):
    """Procedural driving scenes labelled with Cityscapes' 19 train classes.

    :param split: ``train`` (2975 frames), ``val`` (500) or ``test`` (1525), as Cityscapes.
    :param size: ``(H, W)``, both multiples of 16; default 256×512.
    :param seed: the scene seed; the same (seed, split, index) always gives the same frame.
    :param sequence: frames per drive; 1 (default) makes every frame its own scene, more makes
        consecutive frames a camera moving forward through one scene.
    :param fps: frame rate of a sequence. :param speed_kmh: camera speed of a sequence.
    """

    label_set = CITYSCAPES

    def __init__(
        self,
        split: str = "val",
        size: tuple[int, int] = (256, 512),
        seed: int = 0,
        sequence: int = 1,
        fps: float = 10.0,
        speed_kmh: float = 40.0,
    ) -> None:
        if split not in SPLITS:
            raise DataError(f"synthetic split {split!r} is unknown; choose one of {', '.join(SPLITS)}")
        if size[0] % 16 or size[1] % 16 or min(size) < 32:
            raise DataError(f"synthetic size {size[0]}x{size[1]} must be multiples of 16, at least 32")
        if sequence < 1:
            raise DataError(f"synthetic sequence length {sequence} must be at least 1")
        self.split, self.size, self.seed, self.sequence = split, size, seed, sequence
        self.fps, self.speed = fps, speed_kmh / 3.6
        self.offset, self.count = SPLITS[split]

    def __len__(self) -> int:
        return self.count

    def frame(self, index: int) -> Frame:
        """Render frame ``index`` of the split."""
        if not 0 <= index < self.count:
            raise IndexError(f"synthetic {self.split} has {self.count} frames; {index} is out of range")
        drive, step = divmod(index, self.sequence)
        drive_rng = np.random.default_rng([self.seed, self.offset + drive * self.sequence, 1])
        length = self.speed * (self.sequence - 1) / self.fps
        world = make_world(drive_rng, length)
        pitch = float(drive_rng.uniform(-0.03, 0.03))
        time_s = step / self.fps
        frame_rng = np.random.default_rng([self.seed, self.offset + index, 2])
        image, labels = render(world, self.size, self.speed * time_s, pitch, frame_rng)
        return Frame(index=index, image=image, labels=labels, time_s=time_s)


def render(
    world: World, size: tuple[int, int], position: float, pitch: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``world`` seen from Z = ``position``; returns ``(image, labels)``."""
    height, width = size
    camera = Camera(
        width=width, height_px=height, focal=0.9 * width, horizon=height * (0.42 + pitch), position=position
    )
    canvas = Canvas(camera, SKY, effects.sky(rng, world.look, size, camera.horizon))
    draw_ground(canvas, world)
    for thing in world.backdrop:
        draw_thing(canvas, thing)
    for thing in world.things:
        draw_thing(canvas, thing)
    image, labels, depth = canvas.arrays()
    depth = effects.ground_depth(depth, labels, camera.horizon, camera.focal, camera.height)
    shaded = effects.texture(rng, image, labels)
    shaded = effects.light_and_weather(rng, shaded, depth, world.look)
    return effects.camera(rng, shaded, world.look), labels
