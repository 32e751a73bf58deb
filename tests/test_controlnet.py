"""The optional ``controlnet`` codec on a tiny randomly initialised pipeline the test builds:
the map and caption streams on the wire, decoding any loss, determinism, one-line refusals."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from semlink.codecs import CODECS
from semlink.codecs.base import ReceivedBitstream
from semlink.codecs.semantic import diffusion
from semlink.codecs.semantic.controlnet import NEUTRAL_PROMPT, ControlNetCodec
from semlink.data.sources import open_source

SHAPE = (64, 64)
NEEDS = "diffusers and transformers are not installed (pip install 'semlink[controlnet]')"
SPECIAL = ("<|startoftext|>", "<|endoftext|>")
MERGES = (("r", "o"), ("ro", "a"), ("roa", "d</w>"), ("s", "k"), ("sk", "y</w>"))


def write_tokenizer(folder: Path) -> None:
    """A tiny CLIP vocabulary (the special tokens, each letter alone and word-final, a few
    merges) as ``vocab.json`` and ``merges.txt``."""
    tokens = [*SPECIAL]
    for character in "abcdefghijklmnopqrstuvwxyz0123456789;:,.":
        tokens += [character, f"{character}</w>"]
    tokens += ["".join(pair) for pair in MERGES]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({token: number for number, token in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))


def tiny_pipeline(folder: Path) -> Path:
    """A randomly initialised StableDiffusionControlNetPipeline, about 40,000 weights, saved to ``folder``."""
    from diffusers import (
        AutoencoderKL,
        ControlNetModel,
        DDIMScheduler,
        StableDiffusionControlNetPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    write_tokenizer(folder / "vocab")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "vocab", model_max_length=77, local_files_only=True)
    torch.manual_seed(0)
    blocks = {"block_out_channels": (4, 8), "layers_per_block": 1, "norm_num_groups": 1}
    attention = {"cross_attention_dim": 8, "attention_head_dim": 2}
    down = ("DownBlock2D", "CrossAttnDownBlock2D")
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, down_block_types=down,
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **blocks, **attention,
    )  # fmt: skip
    controlnet = ControlNetModel(
        in_channels=4, down_block_types=down, conditioning_embedding_out_channels=(4, 8), **blocks, **attention
    )
    vae = AutoencoderKL(
        block_out_channels=(4, 8), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=2,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1,
    )  # fmt: skip
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer), hidden_size=8, intermediate_size=16, num_attention_heads=2,
            num_hidden_layers=1, max_position_embeddings=77, projection_dim=8,
            bos_token_id=0, eos_token_id=1, pad_token_id=1,
        )
    )  # fmt: skip
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False)
    pipeline = StableDiffusionControlNetPipeline(
        vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, controlnet=controlnet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    with diffusion.quiet():
        pipeline.save_pretrained(folder / "pipeline")
    return folder / "pipeline"


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("diffusers", reason=NEEDS)
    pytest.importorskip("transformers", reason=NEEDS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a net this small gains nothing from more, and a busy machine costs it much
    try:
        yield tiny_pipeline(tmp_path_factory.mktemp("controlnet"))
    finally:
        torch.set_num_threads(threads)


def make(weights: Path, **settings: Any) -> ControlNetCodec:
    codec = CODECS.create("controlnet", weights=str(weights), device="cpu", steps=2, **settings)
    assert isinstance(codec, ControlNetCodec)
    return codec


@pytest.fixture(scope="module")
def codec(weights: Path) -> ControlNetCodec:
    return make(weights, seed=3)


@pytest.fixture(scope="module")
def frame() -> tuple[np.ndarray, np.ndarray]:
    f = open_source("synthetic", "val", SHAPE, None, seed=3).frame(0)
    return f.image, f.labels


def prompts_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The prompt of each frame painted from now on (the pipeline still runs)."""
    seen: list[str] = []
    paint = diffusion.paint

    def spy(pipeline: Any, conditioning: np.ndarray, prompt: str, *rest: Any) -> np.ndarray:
        seen.append(prompt)
        return paint(pipeline, conditioning, prompt, *rest)

    monkeypatch.setattr(diffusion, "paint", spy)
    return seen


@pytest.mark.parametrize("settings", [{"map_scale": 1}, {"map_scale": 2, "map_backup": 4}, {"target_bpp": 0.2}])
def test_on_the_wire_it_is_the_map_and_the_caption_of_ssm(
    weights: Path, frame: tuple[np.ndarray, np.ndarray], settings: dict[str, Any]
) -> None:
    image, labels = frame
    ours = make(weights, **settings).compress(image, labels)
    theirs = CODECS.create("ssm", device="cpu", caption=True, **settings).compress(image, labels)
    assert ours.streams == theirs.streams and dict(ours.settings) == dict(theirs.settings)
    assert {stream.name for stream in ours.streams} >= {"ssm", "caption"}


def test_decodes_to_the_frame_shape_the_same_each_time(
    codec: ControlNetCodec, frame: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    image, labels = frame
    received = codec.compress(image, labels).received()
    seen = prompts_seen(monkeypatch)
    first, second = codec.decompress(received), codec.decompress(received)
    assert first.shape == image.shape and first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert seen[0].startswith(f"{NEUTRAL_PROMPT}: ") and len(seen[0]) > len(NEUTRAL_PROMPT) + 2
    other = make(codec.weights, seed=4).decompress(received)
    assert not np.array_equal(first, other), "the seed drives the sampler's noise"


def test_a_lost_caption_decodes_with_the_neutral_prompt(
    codec: ControlNetCodec, frame: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    image, labels = frame
    received = codec.compress(image, labels).received()
    received.chunks["caption"] = [None]
    seen = prompts_seen(monkeypatch)
    out = codec.decompress(received)
    assert out.shape == image.shape and out.dtype == np.uint8 and seen == [NEUTRAL_PROMPT]


def test_a_lost_map_and_nothing_at_all_still_decode(
    codec: ControlNetCodec, frame: tuple[np.ndarray, np.ndarray]
) -> None:
    image, labels = frame
    received = codec.compress(image, labels).received()
    received.chunks["ssm"] = [None for _ in received.chunks["ssm"]]
    for one in (received, ReceivedBitstream({}, SHAPE)):
        out = codec.decompress(one)
        assert out.shape == image.shape and out.dtype == np.uint8
    assert not codec.conditioning(np.full(SHAPE, codec.label_set.num_classes, np.uint8)).any()  # unknown is black


def test_a_frame_of_any_size_comes_back_at_its_size(codec: ControlNetCodec) -> None:
    f = open_source("synthetic", "val", (64, 96), None, seed=1).frame(0)
    image, labels = f.image[:50, :70], f.labels[:50, :70]  # not a multiple of what the UNet takes
    out = codec.decompress(codec.compress(image, labels).received())
    assert out.shape == (50, 70, 3) and out.dtype == np.uint8


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({}, "codec controlnet needs weights: /path/to/folder"),
        ({"weights": "nowhere"}, "codec controlnet: weights 'nowhere' has no model_index.json"),
        ({"weights": "BROKEN"}, "is not a usable pipeline"),
    ],
)
def test_weights_that_are_missing_or_not_a_pipeline_are_refused_in_one_line(
    weights: Path, tmp_path: Path, given: dict[str, str], says: str
) -> None:
    if given.get("weights") == "BROKEN":
        (tmp_path / "model_index.json").write_text('{"_class_name": "StableDiffusionControlNetPipeline"}')
        given = {"weights": str(tmp_path)}
    with pytest.raises(ValueError) as error:
        CODECS.create("controlnet", device="cpu", **given)
    assert says in str(error.value) and "\n" not in str(error.value)


def test_without_diffusers_building_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers now raises ImportError
    with pytest.raises(ValueError) as error:
        CODECS.create("controlnet", weights="anywhere", device="cpu")
    assert str(error.value) == "codec controlnet needs diffusers and transformers: pip install 'semlink[controlnet]'"


@pytest.mark.parametrize(
    ("given", "says"),
    [({"steps": 0}, "steps=0.0 must be"), ({"seed": 1.5}, "must be whole"), ({"map_scale": 3}, "map_scale 3 must be")],
)
def test_sampler_and_map_settings_are_checked_before_anything_loads(given: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError) as error:
        CODECS.create("controlnet", weights="anywhere", device="cpu", **given)
    assert says in str(error.value) and "\n" not in str(error.value)
