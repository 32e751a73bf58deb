"""The caption stream: text written from a frame and its map, parsed back tolerantly, sent as its
own chunk (bits counted) and applied after the network; a lost or damaged caption is no caption."""

from __future__ import annotations

import numpy as np
import pytest

from semlink.codecs import CODECS
from semlink.codecs.base import ReceivedBitstream
from semlink.codecs.semantic.caption import (
    COLOURS,
    MAX_BYTES,
    Caption,
    instance_masks,
    parse_caption,
    read_caption,
    write_caption,
)
from semlink.codecs.semantic.caption_part import recolour
from semlink.codecs.semantic.codec import SemanticCodec
from semlink.data.labelset import CAMVID, CITYSCAPES
from semlink.data.sources import open_source
from tests.fakes import tiny_codec_checkpoint

SKY, ROAD, CAR = (CAMVID.classes.index(name) for name in ("sky", "road", "car"))
SHAPE = (64, 128)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_codec_checkpoint(tmp_path_factory.mktemp("codec") / "tiny.pt"))


@pytest.fixture(scope="module")
def frame() -> tuple[np.ndarray, np.ndarray]:
    f = open_source("synthetic", "val", SHAPE, None, seed=3).frame(0)
    return f.image, f.labels


def hand_made() -> tuple[np.ndarray, np.ndarray]:
    """Pale-blue sky over a dark-grey road with a large red car, a smaller red one and a white one."""
    labels = np.full(SHAPE, ROAD, dtype=np.uint8)
    labels[:24] = SKY
    image = np.empty((*SHAPE, 3), dtype=np.uint8)
    image[:24], image[24:] = COLOURS["pale blue"], COLOURS["dark grey"]
    for (top, left, rows, cols), colour in [
        ((32, 8, 24, 40), "red"),
        ((32, 96, 16, 24), "white"),
        ((36, 56, 20, 32), "red"),
    ]:
        labels[top : top + rows, left : left + cols] = CAR
        image[top : top + rows, left : left + cols] = COLOURS[colour]
    return image, labels


def make(name: str, checkpoint: str, **settings: object) -> SemanticCodec:
    codec = CODECS.create(name, checkpoint=checkpoint, device="cpu", **settings)
    assert isinstance(codec, SemanticCodec)
    return codec


def test_a_hand_made_frame_is_described_and_read_back() -> None:
    image, labels = hand_made()
    caption = write_caption(image, labels, CAMVID)
    text = caption.text(CAMVID)
    # cars largest first: 24x40 red, 20x32 red, 16x24 white
    assert text == "sky pale blue; road dark grey; car red 2, white 1"
    assert len(text.encode("utf-8")) <= MAX_BYTES
    parsed = parse_caption(text, CAMVID)
    assert parsed == caption
    assert parsed.regions == {SKY: "pale blue", ROAD: "dark grey"}
    assert parsed.instances == {CAR: ("red", "red", "white")}


def test_the_parser_skips_what_it_cannot_read() -> None:
    text = "sky pale blue;; lorry red 2; road dark grey-ish; car red 2, mauve 1; tree  green  ; fence"
    caption = parse_caption(text, CAMVID)
    tree = CAMVID.classes.index("tree")
    assert caption.regions == {SKY: "pale blue", tree: "green"}
    assert caption.instances == {}  # one unreadable instance drops the class: colours would land on wrong cars
    assert parse_caption("car red 99999", CAMVID) == Caption()
    assert read_caption(None, CAMVID) is None and read_caption(b"\xff\xfe\x00garbage", CAMVID) is None


def test_instances_are_the_same_at_every_map_scale() -> None:
    _, labels = hand_made()
    for scale in (1, 2, 4):
        decoded = labels[::scale, ::scale].repeat(scale, 0).repeat(scale, 1)
        sent, got = instance_masks(labels, CAR), instance_masks(decoded, CAR)
        assert [int(m.sum()) for m in got] == sorted((int(m.sum()) for m in got), reverse=True)
        assert len(got) == len(sent) == 3
        assert all((a & b).sum() > 0.8 * a.sum() for a, b in zip(sent, got, strict=True))


def test_recolour_moves_a_region_only_as_far_as_the_caption_says() -> None:
    labels = np.full(SHAPE, ROAD, dtype=np.uint8)
    labels[:32] = SKY
    image = np.full((*SHAPE, 3), 128, dtype=np.uint8)
    image[:32] = (200, 214, 230)  # already named pale blue: stays
    out = recolour(image, labels, Caption({SKY: "pale blue", ROAD: "red"}))
    red = np.array(COLOURS["red"], dtype=float)
    assert np.array_equal(out[:20], image[:20])  # far from the road's edge, the sky is untouched
    before, after = (np.abs(x[48:].astype(float).mean((0, 1)) - red).sum() for x in (image, out))
    assert after < 0.5 * before


def test_the_caption_is_its_own_chunk_with_its_bits_counted(
    checkpoint: str, frame: tuple[np.ndarray, np.ndarray]
) -> None:
    image, labels = frame
    off = make("ssm", checkpoint, map_scale=2).compress(image, labels)
    codec = make("ssm", checkpoint, map_scale=2, caption=True)
    on = codec.compress(image, labels)
    assert [s.name for s in on.streams] == ["ssm", "caption"]
    (chunk,) = on.streams[1].chunks
    assert 0 < len(chunk) <= MAX_BYTES and chunk.decode("utf-8") == write_caption(image, labels, CITYSCAPES).text(
        CITYSCAPES
    )
    assert on.streams[0] == off.streams[0]
    assert on.bits == off.bits + 8 * len(chunk)
    assert on.settings["caption_bytes"] == len(chunk)


def test_the_caption_changes_the_reconstruction_where_colours_differ(
    checkpoint: str, frame: tuple[np.ndarray, np.ndarray]
) -> None:
    image, labels = frame
    plain = make("sqgan", checkpoint, tokens=0.2)
    captioned = make("sqgan", checkpoint, tokens=0.2, caption=True)
    without = plain.decompress(plain.compress(image, labels).received())
    with_caption = captioned.decompress(captioned.compress(image, labels).received())
    assert not np.array_equal(without, with_caption)
    error = [np.abs(x.astype(float) - image).mean() for x in (without, with_caption)]
    assert error[1] < error[0]  # an untrained network's colours are far off; the caption's are near


def test_a_lost_caption_decodes_as_no_caption(checkpoint: str, frame: tuple[np.ndarray, np.ndarray]) -> None:
    image, labels = frame
    plain = make("ssm", checkpoint, map_scale=2)
    captioned = make("ssm", checkpoint, map_scale=2, caption=True)
    received = captioned.compress(image, labels).received()
    received.chunks["caption"] = [None]
    expected = plain.decompress(plain.compress(image, labels).received())
    assert np.array_equal(captioned.decompress(received), expected)
    del received.chunks["caption"]  # the stream never arrived at all
    assert np.array_equal(captioned.decompress(received), expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_damaged_caption_decodes(seed: int, checkpoint: str, frame: tuple[np.ndarray, np.ndarray]) -> None:
    image, labels = frame
    codec = make("spic", checkpoint, quality=30, caption=True)
    received = codec.compress(image, labels).received()
    received.chunks["caption"] = [np.random.default_rng(seed).bytes(40)]
    out = codec.decompress(received)
    assert out.shape == image.shape and out.dtype == np.uint8
    nothing = codec.decompress(ReceivedBitstream({"caption": received.chunks["caption"]}, SHAPE))
    assert nothing.shape == image.shape  # a caption without its map names no region


@pytest.mark.parametrize(("name", "knob", "value"), [("sqgan", "tokens", 1.0), ("spic", "quality", 60)])
def test_target_bpp_counts_the_caption(name: str, knob: str, value: float, checkpoint: str) -> None:
    larger = open_source("synthetic", "val", (128, 256), None, seed=3).frame(0)  # room for tokens worth a caption
    image, labels = larger.image, larger.labels
    target = make(name, checkpoint, lowres_divisor=4, **{knob: value}).compress(image, labels).bpp
    without = make(name, checkpoint, lowres_divisor=4, target_bpp=target).compress(image, labels)
    captioned = make(name, checkpoint, lowres_divisor=4, target_bpp=target, caption=True).compress(image, labels)
    caption_bits = captioned.bits - sum(s.bits for s in captioned.streams if s.name != "caption")
    assert caption_bits > 0 and without.bits > target * image.shape[0] * image.shape[1] - caption_bits
    assert captioned.bpp <= target  # the caption's bits came out of the knob's budget
    assert captioned.settings[knob] < without.settings[knob]


@pytest.mark.parametrize(
    ("name", "caption", "message"),
    [
        ("gan", True, "gan sends no map for a caption to describe; use caption: false"),
        ("ssm", "yes", "caption 'yes' must be true or false"),
    ],
)
def test_bad_caption_settings_are_refused(name: str, caption: object, message: str, checkpoint: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(name, checkpoint, caption=caption)
