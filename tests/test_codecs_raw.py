"""The reference codecs: exact round trip, honest bits, any pattern of lost chunks."""

from __future__ import annotations

import numpy as np
import pytest

from semlink.codecs import CODECS, Bitstream, ReceivedBitstream
from semlink.codecs.base import GREY

IMAGE = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)


def test_identity_round_trip_is_exact_at_24_bpp() -> None:
    codec = CODECS.create("identity")
    bitstream = codec.compress(IMAGE)
    assert bitstream.bpp == 24.0
    assert np.array_equal(codec.decompress(bitstream.received()), IMAGE)


@pytest.mark.parametrize("factor", [2.0, 4.0, 8.0])
def test_resize_bits_match_the_small_frame(factor: float) -> None:
    codec = CODECS.create("resize", factor=factor)
    bitstream = codec.compress(IMAGE)
    assert bitstream.bits == 24 * round(64 / factor) * round(96 / factor)
    recon = codec.decompress(bitstream.received())
    assert recon.shape == IMAGE.shape and recon.dtype == np.uint8


@pytest.mark.parametrize("name", ["identity", "resize"])
def test_every_chunk_missing_decodes_to_grey(name: str) -> None:
    codec = CODECS.create(name)
    bitstream = codec.compress(IMAGE)
    lost = ReceivedBitstream({s.name: [None] * len(s.chunks) for s in bitstream.streams}, bitstream.shape)
    assert np.all(codec.decompress(lost) == GREY)
    assert np.all(codec.decompress(ReceivedBitstream({}, bitstream.shape)) == GREY)


def test_one_missing_strip_leaves_the_rest_exact() -> None:
    codec = CODECS.create("identity")
    received = codec.compress(IMAGE).received()
    received.chunks["image"][1] = None
    recon = codec.decompress(received)
    assert np.all(recon[16:32] == GREY)
    assert np.array_equal(recon[:16], IMAGE[:16]) and np.array_equal(recon[32:], IMAGE[32:])


def test_truncated_chunk_is_treated_as_missing() -> None:
    codec = CODECS.create("identity")
    received = codec.compress(IMAGE).received()
    chunk = received.chunks["image"][0]
    assert chunk is not None
    received.chunks["image"][0] = chunk[:-5]
    assert np.all(codec.decompress(received)[:16] == GREY)


def test_resize_rejects_a_factor_below_one() -> None:
    with pytest.raises(ValueError, match=r"factor=0\.5 must be >= 1"):
        CODECS.create("resize", factor=0.5)


@pytest.mark.parametrize("target", [0.1, 1.0, 6.0, 30.0])
def test_resize_target_bpp_lands_at_or_below_and_the_receiver_agrees(target: float) -> None:
    codec = CODECS.create("resize", target_bpp=target)
    bitstream = codec.compress(IMAGE)
    assert bitstream.bpp <= min(target, 24.0) and bitstream.bpp > 0.5 * min(target, 24.0)
    assert CODECS.create("resize", target_bpp=target).decompress(bitstream.received()).shape == IMAGE.shape


def test_identity_refuses_a_target_below_raw() -> None:
    with pytest.raises(ValueError, match="24 bpp"):
        CODECS.create("identity", target_bpp=1.0)


def test_registration_checks_what_a_codec_declares() -> None:
    from semlink.codecs.base import Codec, check_codec_class

    class NoTarget(Codec):
        name = "no-target"

        def __init__(self, quality: float = 1.0) -> None:
            self.quality = quality

        def compress(self, image: np.ndarray, ssm: np.ndarray | None = None) -> Bitstream:
            raise NotImplementedError

        def decompress(self, received: ReceivedBitstream) -> np.ndarray:
            raise NotImplementedError

    check_codec_class("no-target", NoTarget)  # no target_bpp: fine until a scenario sets it
    with pytest.raises(TypeError, match="its class says name = 'no-target'"):
        check_codec_class("other", NoTarget)
    with pytest.raises(TypeError, match="not a subclass"):
        check_codec_class("f", lambda: None)
