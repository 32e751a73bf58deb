"""Raw HEVC intra through PyAV's libx265: the stand-in for BPG (see :mod:`semlink.codecs.classic`).

The payload is the bare Annex-B bitstream of one intra frame (VPS, SPS, PPS and the slices, no
container and no SEI text block), so its bits compare with published BPG figures. The frame is
coded 4:2:0 with BT.601 limited-range YCbCr at a constant QP, which is the slice QP itself
(``ipratio=1``; x265 would otherwise code an I-frame three QPs finer). x265 needs both sides
even and at least 32 pixels: smaller frames are padded by edge replication and cropped again.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame

from semlink.codecs.base import CODECS
from semlink.codecs.classic import ClassicCodec

X265_PARAMS = "info=0:log-level=none:ipratio=1:frame-threads=1:pools=none"
"""No SEI text block, no log, QP as given for the I slice, single-threaded."""
X265_PRESET = "medium"
MIN_SIDE = 32


def pad_for_x265(image: np.ndarray) -> np.ndarray:
    """``image`` padded at the bottom and right (edge pixels) to even sides of at least ``MIN_SIDE``."""
    height, width = image.shape[:2]
    pad_h, pad_w = max(MIN_SIDE, height + height % 2) - height, max(MIN_SIDE, width + width % 2) - width
    if not pad_h and not pad_w:
        return image
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def encode_hevc(image: np.ndarray, qp: int) -> bytes:
    """The Annex-B HEVC bitstream of ``image`` (``[h, w, 3]`` uint8, even sides ≥ 32) as one intra frame."""
    context = av.CodecContext.create("libx265", "w")
    if not isinstance(context, VideoCodecContext):
        raise TypeError("libx265 did not open as a video encoder")
    context.width, context.height, context.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
    context.options = {"preset": X265_PRESET, "x265-params": f"qp={qp}:{X265_PARAMS}"}
    frame = VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    packets = [*context.encode(frame), *context.encode(None)]
    return b"".join(bytes(packet) for packet in packets)


def decode_hevc(payload: bytes) -> np.ndarray:
    """The RGB image of a one-frame Annex-B HEVC bitstream.

    :raises ValueError: unless exactly one frame decodes (PyAV's own errors pass through).
    """
    context = av.CodecContext.create("hevc", "r")
    packets = [*context.parse(payload), *context.parse(None)]
    frames = [frame for packet in [*packets, None] for frame in context.decode(packet)]
    if len(frames) != 1 or not isinstance(frames[0], VideoFrame):
        raise ValueError(f"HEVC payload held {len(frames)} frames, expected one")
    return frames[0].to_ndarray(format="rgb24")


@CODECS.register("hevc")
class HevcCodec(ClassicCodec):
    """HEVC intra (x265, preset medium), 4:2:0: the BPG stand-in.

    Its knob is the QP: higher means fewer bits; 51 is the floor, as for BPG.

    :param quality: QP 0–51 (rounded).
    :param target_bpp: bits per pixel to land at or below.
    """

    name = "hevc"
    knob_grid = tuple(float(qp) for qp in range(51, -1, -1))
    quality_range = (0.0, 51.0)
    quality_unit = "QP"

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        """The HEVC bitstream of ``image`` (padded as x265 needs) at QP ``quality``."""
        return encode_hevc(pad_for_x265(image), round(quality))

    def decode(self, payload: bytes) -> np.ndarray:
        """The padded frame in the HEVC bitstream ``payload``."""
        return decode_hevc(payload)
