"""Receiver-derived token positions: both ends rank the blocks from the map, positions cost no bits."""

from __future__ import annotations

import numpy as np
import pytest

from semlink.codecs import CODECS
from semlink.codecs.semantic.codec import SemanticCodec
from semlink.codecs.semantic.map_part import MapPart
from semlink.codecs.semantic.positions import band_positions, block_scores, derived_order, ranking
from semlink.codecs.semantic.token_part import TokenPart
from tests.fakes import blocky_maps, tiny_codec_checkpoint

SHAPE = (100, 150)  # a 7 × 10 token grid, the last row and column padded


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_codec_checkpoint(tmp_path_factory.mktemp("codec") / "tiny.pt"))


@pytest.fixture(scope="module")
def frame() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    return rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8), blocky_maps(1, SHAPE, 19, seed=4)[0]


def make(checkpoint: str, **settings: object) -> SemanticCodec:
    codec = CODECS.create("sqgan", checkpoint=checkpoint, device="cpu", **settings)
    assert isinstance(codec, SemanticCodec)
    return codec


def map_part(codec: SemanticCodec) -> MapPart:
    assert codec.map_part is not None
    return codec.map_part


def token_part(codec: SemanticCodec) -> TokenPart:
    assert codec.token_part is not None
    return codec.token_part


def sent_keep(codec: SemanticCodec, labels: np.ndarray, fraction: float) -> np.ndarray:
    """The transmitter's kept positions ``[h, w]`` at ``fraction`` of the grid."""
    order = derived_order(map_part(codec).as_decoded(labels))
    keep = np.zeros(order.size, dtype=bool)
    keep[order[: round(fraction * order.size)]] = True
    return keep.reshape(-(-SHAPE[0] // 16), -(-SHAPE[1] // 16))


def test_block_scores_count_class_edges_inside_each_block_only() -> None:
    labels = np.zeros((32, 32), dtype=np.uint8)
    labels[:16, 8:16] = 1  # a vertical edge inside block (0, 0): 16 pixel pairs
    labels[16:, 16:] = 2  # edges only between blocks: not counted
    assert block_scores(labels).tolist() == [[16, 0], [0, 0]]


def test_ties_are_spread_over_the_grid() -> None:
    first = ranking(np.zeros((8, 8), dtype=np.int64))[:4]
    assert sorted((int(p) // 8 // 4, int(p) % 8 // 4) for p in first) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_a_band_keeps_its_share_of_the_global_top_k() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (7, 10))
    top = np.zeros(70, dtype=bool)
    top[ranking(scores)[:23]] = True
    top = top.reshape(7, 10)
    for first in range(0, 7, 2):
        band = top[first : first + 2]
        expected = np.flatnonzero(band)
        assert np.array_equal(band_positions(scores[first : first + 2], int(band.sum()), first), expected)


@pytest.mark.parametrize("map_scale", [1, 2])
def test_encoder_and_decoder_derive_the_same_mask(
    map_scale: int, checkpoint: str, frame: tuple[np.ndarray, np.ndarray]
) -> None:
    image, labels = frame
    codec = make(checkpoint, tokens=0.3, positions="derived", map_scale=map_scale)
    received = codec.compress(image, labels).received()
    decoded = map_part(codec).received_map(received.stream("ssm"), SHAPE)
    keep, _ = token_part(codec).received_tokens(received.stream("vq"), sent_keep(codec, labels, 0.3).shape, decoded)
    assert np.array_equal(keep, sent_keep(codec, labels, 0.3))
    assert keep.sum() == round(0.3 * keep.size)


def test_the_indices_arrive_where_they_were_taken(checkpoint: str, frame: tuple[np.ndarray, np.ndarray]) -> None:
    image, labels = frame
    derived, sent = make(checkpoint, tokens=1.0, positions="derived"), make(checkpoint, tokens=1.0)
    grid = sent_keep(derived, labels, 1.0).shape
    got = token_part(derived).received_tokens(derived.compress(image, labels).received().stream("vq"), grid, labels)
    want = token_part(sent).received_tokens(sent.compress(image, labels).received().stream("vq"), grid)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_a_lost_map_strip_drops_only_the_tokens_of_its_band(
    checkpoint: str, frame: tuple[np.ndarray, np.ndarray]
) -> None:
    image, labels = frame
    codec = make(checkpoint, tokens=0.5, positions="derived", map_backup=4)
    received = codec.compress(image, labels).received()
    received.chunks["ssm"][1] = None  # frame rows 32-63: grid rows 2-3, the second band
    out = codec.decompress(received)
    assert out.shape == (*SHAPE, 3)
    decoded = map_part(codec).received_map(received.stream("ssm"), SHAPE)
    keep, _ = token_part(codec).received_tokens(received.stream("vq"), (7, 10), decoded)
    want = sent_keep(codec, labels, 0.5)
    assert not keep[2:4].any()
    assert np.array_equal(keep[:2], want[:2]) and np.array_equal(keep[4:], want[4:])


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.6])
def test_derived_positions_cost_fewer_bits_at_equal_tokens(fraction: float, checkpoint: str) -> None:
    shape = (256, 512)  # bands of 8 grid rows: 256 positions, so the bitmap outweighs the 32-bit word padding
    image = np.random.default_rng(5).integers(0, 256, (*shape, 3), dtype=np.uint8)
    labels = blocky_maps(1, shape, 19, seed=5)[0]
    bits = {}
    for positions in ("sent", "derived"):
        codec = make(checkpoint, tokens=fraction, positions=positions, band_rows=8, strip_rows=128)
        received = codec.compress(image, labels).received()
        bits[positions] = sum(8 * len(c) for c in received.stream("vq") if c is not None)
    bitmap = 512 * -(fraction * np.log2(fraction) + (1 - fraction) * np.log2(1 - fraction))  # n·H(k/n)
    assert bits["derived"] < bits["sent"]
    # what derived saves is the bitmap, within the 32-bit word padding of the two bands
    assert bits["sent"] - bits["derived"] == pytest.approx(bitmap, abs=2 * 32 + 0.05 * bitmap), bits


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("sqgan", {"positions": "both"}, "positions 'both' must be sent or derived"),
        ("gan", {"positions": "derived"}, "gan sends no map to derive token positions from; use positions: sent"),
        ("sqgan", {"positions": "derived", "token_order": "importance"}, "needs token_order: spatial"),
    ],
)
def test_bad_position_settings_are_refused(name: str, settings: dict[str, str], message: str, checkpoint: str) -> None:
    with pytest.raises(ValueError, match=message):
        CODECS.create(name, checkpoint=checkpoint, device="cpu", **settings)
