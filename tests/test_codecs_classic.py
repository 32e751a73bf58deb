"""The classic baselines: rate targets met from below, downscaling under the floor, grey or undecodable."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pytest

from semlink.codecs import CODECS, Bitstream, ReceivedBitstream
from semlink.codecs.base import GREY, UndecodableError
from semlink.codecs.classic import MIN_SCALE, ClassicCodec

NAMES = ["jpeg", "webp", "jpeg2000", "avif", "hevc"]


def scene(height: int = 128, width: int = 256) -> np.ndarray:
    """A smooth-ish test frame: colour gradients, a disc, a box, mild noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.stack([255 * x / width, 255 * y / height, 128 + 60 * np.sin(x / 9 + y / 13)], axis=-1)
    image[(x - 0.3 * width) ** 2 + (y - 0.5 * height) ** 2 < (0.25 * height) ** 2] = (220, 40, 40)
    image[height // 5 : height // 2, int(0.6 * width) : int(0.85 * width)] = (30, 30, 200)
    image += np.random.default_rng(0).normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


IMAGE = scene()
PIXELS = IMAGE.shape[0] * IMAGE.shape[1]


def classic(name: str, **kwargs: float) -> ClassicCodec:
    """A registered classic codec."""
    codec = CODECS.create(name, **kwargs)
    assert isinstance(codec, ClassicCodec)
    return codec


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images."""
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def grid(name: str) -> Sequence[float]:
    """The codec's knob values, worst quality first."""
    return classic(name, target_bpp=1.0).knob_grid


@cache
def coded(name: str) -> Bitstream:
    """``IMAGE`` coded at the middle of the codec's knob grid (shared by the damage tests)."""
    knobs = grid(name)
    return classic(name, quality=knobs[len(knobs) // 2]).compress(IMAGE)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_at_one_bpp_is_one_chunk_and_decent(name: str) -> None:
    codec = classic(name, target_bpp=1.0)
    bitstream = codec.compress(IMAGE)
    assert [(s.name, s.priority, len(s.chunks)) for s in bitstream.streams] == [("image", 0, 1)]
    recon = codec.decompress(bitstream.received())
    assert recon.shape == IMAGE.shape and recon.dtype == np.uint8
    assert psnr(recon, IMAGE) > 25.0


@pytest.mark.parametrize("target", [0.3, 1.0])
@pytest.mark.parametrize("name", NAMES)
def test_target_bpp_lands_at_or_just_below(name: str, target: float) -> None:
    codec = classic(name, target_bpp=target)
    bitstream = codec.compress(IMAGE)
    assert 0.5 * target <= bitstream.bpp <= target
    assert bitstream.settings["scale"] == 1.0 and bitstream.settings["quality"] in codec.knob_grid


@pytest.mark.parametrize("name", NAMES)
def test_very_low_target_downscales_and_decodes_to_full_size(name: str) -> None:
    floor = classic(name, quality=grid(name)[0]).compress(IMAGE).bits
    codec = classic(name, target_bpp=0.02)
    bitstream = codec.compress(IMAGE)
    assert bitstream.settings["scale"] < 1.0 and bitstream.bits < floor
    assert bitstream.bpp <= 0.02 or bitstream.settings["scale"] == MIN_SCALE  # headers alone can exceed 0.02 bpp here
    recon = codec.decompress(bitstream.received())
    assert recon.shape == IMAGE.shape and recon.dtype == np.uint8 and not np.all(recon == GREY)


# JPEG 2000's floor is its headers (~175 bytes at any size): downscaling cannot get far below it.
@pytest.mark.parametrize("name", ["jpeg", "webp", "avif", "hevc"])
def test_target_below_the_full_size_floor_is_met_downscaled(name: str) -> None:
    floor = classic(name, quality=grid(name)[0]).compress(IMAGE).bpp
    codec = classic(name, target_bpp=0.75 * floor)
    bitstream = codec.compress(IMAGE)
    assert bitstream.bpp <= 0.75 * floor and bitstream.settings["scale"] < 1.0
    assert "quality" in bitstream.settings


@pytest.mark.parametrize("name", NAMES)
def test_better_quality_knob_costs_more_bits(name: str) -> None:
    knobs = [grid(name)[len(grid(name)) * k // 4] for k in (1, 2, 3)]
    bits = []
    for knob in knobs:
        codec = classic(name, quality=knob)
        bitstream = codec.compress(IMAGE)
        bits.append(bitstream.bits)
        assert bitstream.settings == {"quality": knob, "scale": 1.0}
    assert bits[0] < bits[1] < bits[2]


def damaged(bitstream: Bitstream, damage: str) -> ReceivedBitstream:
    """``bitstream`` after the channel did ``damage`` to its one chunk."""
    chunk = bitstream.streams[0].chunks[0]
    rng = np.random.default_rng(1)
    chunks: dict[str, list[bytes | None]] = {
        "lost": {"image": [None]},
        "empty": {},
        "truncated": {"image": [chunk[: len(chunk) - 7]]},
        "cut in half": {"image": [chunk[: len(chunk) // 2]]},
        "random": {"image": [rng.bytes(len(chunk))]},
        "random payload": {"image": [chunk[:3] + rng.bytes(len(chunk) - 3)]},
    }[damage]
    return ReceivedBitstream(chunks, bitstream.shape)


@pytest.mark.parametrize("damage", ["lost", "empty"])
@pytest.mark.parametrize("name", NAMES)
def test_lost_chunk_decodes_to_grey(name: str, damage: str) -> None:
    recon = classic(name, target_bpp=1.0).decompress(damaged(coded(name), damage))
    assert recon.shape == IMAGE.shape and recon.dtype == np.uint8 and np.all(recon == GREY)


@pytest.mark.parametrize("damage", ["truncated", "cut in half", "random", "random payload"])
@pytest.mark.parametrize("name", NAMES)
def test_damaged_chunk_is_reported_undecodable(name: str, damage: str) -> None:
    with pytest.raises(UndecodableError, match=name):
        classic(name, target_bpp=1.0).decompress(damaged(coded(name), damage))


@pytest.mark.parametrize("name", NAMES)
def test_odd_and_tiny_frames_round_trip(name: str) -> None:
    codec = classic(name, quality=grid(name)[-1])
    for shape in [(37, 50), (9, 13)]:  # x265 pads to even sides ≥ 32; the decoder must crop exactly
        image = scene(*shape)
        recon = codec.decompress(codec.compress(image).received())
        assert recon.shape == image.shape and psnr(recon, image) > 17.0  # grey scores 10.6; 4:2:0 caps it near 20


def test_hevc_payload_is_a_bare_annex_b_stream_without_sei_text() -> None:
    chunk = classic("hevc", quality=30).compress(IMAGE).streams[0].chunks[0]
    payload = chunk[3:]  # divisor byte and a two-byte length
    assert payload.startswith(b"\x00\x00\x00\x01\x40\x01")  # start code, then the VPS
    assert b"x265" not in payload


BAD_ARGUMENTS = [
    ({}, "quality"),
    ({"quality": 10.0, "target_bpp": 0.5}, "exactly one"),
    ({"target_bpp": "high"}, "target_bpp='high' must be a number > 0"),
    ({"quality": -1.0}, "quality"),
    ({"quality": 2_000_000.0}, "quality"),
    ({"target_bpp": 0.0}, "target_bpp"),
    ({"target_bpp": -0.1}, "target_bpp=-0.1 must be > 0"),
    ({"target_bpp": float("inf")}, "target_bpp"),
]


@pytest.mark.parametrize(("kwargs", "named"), BAD_ARGUMENTS)
@pytest.mark.parametrize("name", NAMES)
def test_bad_parameters_are_a_value_error_naming_them(name: str, kwargs: dict[str, float], named: str) -> None:
    with pytest.raises(ValueError, match=named) as error:
        CODECS.create(name, **kwargs)
    assert name in str(error.value)
