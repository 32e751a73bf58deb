"""The transmitter stage: frames -> codec -> packets -> wire messages, and the point control messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from semlink.codecs.base import Codec
from semlink.data.frame import Frame, FrameSource
from semlink.transmitter.packetizer import chunk_bytes, packetize
from semlink.vision.segmenter import Segmenter
from semlink.wire import Control, encode

Message = list[bytes]
MAP_CACHE_FRAMES = 1000
"""Frames whose maps are kept for the next points (about 130 kB each at 256×512)."""


@dataclass(frozen=True)
class TxPlan:
    """What the transmitter needs of one sweep point.

    :param index: the point's index in the sweep. :param key: its stable key.
    :param make_codec: builds the point's codec. :param frames: frames to send.
    """

    index: int
    key: str
    make_codec: Callable[[], Codec]
    frames: int


class TransmitterStage:
    """Turns each point's frames into wire messages: one message per frame, one part per packet.

    Every point is framed by a ``point-start`` and a ``point-end`` control message (the latter
    carrying what was sent), and the run ends with ``end``.

    :param source: the frames.
    :param plans: the points to send, in order.
    :param mtu: payload bytes per packet.
    :param frame_interval_us: simulated time between frames (1 / fps).
    :param run_id: tags every message of this run.
    :param segmenter: makes the maps of codecs that send one (``codec.uses_ssm``).
    """

    def __init__(
        self,
        source: FrameSource,
        plans: list[TxPlan],
        mtu: int,
        frame_interval_us: int,
        run_id: int,
        segmenter: Segmenter | None = None,
    ) -> None:
        self.source, self.plans, self.mtu = source, plans, mtu
        self.frame_interval_us, self.run_id = frame_interval_us, run_id
        self.segmenter = segmenter
        self._maps: dict[int, np.ndarray] = {}

    def segmentation(self, frame: Frame) -> np.ndarray:
        """The segmenter's map of ``frame``, computed once per frame for every point that needs it."""
        if self.segmenter is None:
            raise ValueError("a codec needs the segmentation map but the transmitter has no segmenter")
        cached = self._maps.get(frame.index)
        if cached is None:
            cached = self.segmenter.segment(frame.image[None])[0]
            if len(self._maps) < MAP_CACHE_FRAMES:
                self._maps[frame.index] = cached
        return cached

    def messages(self) -> Iterator[Message]:
        """Every message of the run, in order."""
        for plan in self.plans:
            yield [encode(Control("point-start", self.run_id, plan.index, {"key": plan.key, "frames": plan.frames}))]
            totals = PointTotals()
            codec = plan.make_codec()
            for frame in self.source.take(plan.frames):
                ssm = self.segmentation(frame) if codec.uses_ssm else None
                bitstream = codec.compress(frame.image, ssm)
                packets = packetize(
                    bitstream, self.run_id, plan.index, frame.index, self.mtu, frame.index * self.frame_interval_us
                )
                parts = [encode(p) for p in packets]
                totals.add(len(parts), 8 * chunk_bytes(packets), 8 * sum(len(p) for p in parts), codec_settings(codec))
                yield parts
            yield [encode(Control("point-end", self.run_id, plan.index, totals.body(plan.key)))]
        yield [encode(Control("end", self.run_id, 0, {}))]


@dataclass
class PointTotals:
    """What the transmitter sent during one point (reported in its ``point-end``)."""

    packets: int = 0
    payload_bits: int = 0
    wire_bits: int = 0

    def __post_init__(self) -> None:
        self.frame_packets: list[int] = []
        self.frame_bits: list[int] = []
        self.frame_settings: list[dict[str, float]] = []

    def add(self, packets: int, payload_bits: int, wire_bits: int, settings: dict[str, float]) -> None:
        """Count one frame; ``settings`` are the knob values the codec chose for it."""
        self.packets += packets
        self.payload_bits += payload_bits
        self.wire_bits += wire_bits
        self.frame_packets.append(packets)
        self.frame_bits.append(payload_bits)
        self.frame_settings.append(settings)

    def body(self, key: str) -> dict[str, object]:
        """The ``point-end`` body."""
        return {
            "key": key,
            "packets_sent": self.packets,
            "payload_bits": self.payload_bits,
            "wire_bits": self.wire_bits,
            "frame_packets": self.frame_packets,
            "frame_bits": self.frame_bits,
            "frame_settings": self.frame_settings,
        }


def codec_settings(codec: Codec) -> dict[str, float]:
    """What a rate-searching codec chose for the last frame (its ``last_quality``, ``last_scale`` and
    ``last_keep_ratio``, the fraction of tokens a semantic codec sent)."""
    chosen = {
        "quality": getattr(codec, "last_quality", None),
        "scale": getattr(codec, "last_scale", None),
        "keep_ratio": getattr(codec, "last_keep_ratio", None),
    }
    return {name: float(value) for name, value in chosen.items() if isinstance(value, int | float)}
