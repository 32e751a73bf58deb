"""The transmitter stage: frames -> codec -> packets -> wire messages, and the point control messages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from semlink.codecs.base import Bitstream, Codec
from semlink.data.frame import Frame, FrameSource
from semlink.transmitter.packetizer import chunk_bytes, packetize
from semlink.vision.segmenter import Segmenter
from semlink.wire import End, PointEnd, PointStart, encode_message

Message = list[bytes]
MAP_CACHE_FRAMES = 1000
"""Frames whose maps are kept for the next points (about 130 kB each at 256×512)."""

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class TxPlan:
    """What the transmitter needs of one unit it sends (a sweep point, or one realisation of it).

    :param index: the unit's number on the wire. :param key: its stable key.
    :param make_codec: builds the point's codec. :param frames: frames to send.
    :param source: the frames. :param mtu: payload bytes per packet.
    :param frame_interval_us: simulated time between frames (1 / fps).
    :param segmenter: makes the maps of codecs that send one (``codec.uses_ssm``).
    :param reuse_key: units with the same key in a row send the same bitstreams (realisations of
        one point differ only in the channel), so the frames are coded once.
    """

    index: int
    key: str
    make_codec: Callable[[], Codec]
    frames: int
    source: FrameSource
    mtu: int
    frame_interval_us: int
    segmenter: Segmenter | None = None
    reuse_key: str | None = None


class TransmitterStage:
    """Turns each unit's frames into wire messages: one message per frame, one part per packet.

    Every unit is framed by a ``point-start`` and a ``point-end`` control message (the latter
    carrying what was sent), and the run ends with ``end``.

    :param plans: the units to send, in order.
    :param run_id: tags every message of this run.
    """

    def __init__(self, plans: list[TxPlan], run_id: int) -> None:
        self.plans, self.run_id = plans, run_id
        self._maps: dict[tuple[int, int, int], np.ndarray] = {}
        self._coded_key: str | None = None
        self._coded: dict[int, tuple[Bitstream, dict[str, float]]] = {}
        self._codec: Codec | None = None

    def segmentation(self, plan: TxPlan, frame: Frame) -> np.ndarray:
        """The segmenter's map of ``frame``, computed once per frame and segmenter for every point."""
        if plan.segmenter is None:
            raise ValueError("a codec needs the segmentation map but the transmitter has no segmenter")
        key = (id(plan.segmenter), id(plan.source), frame.index)
        cached = self._maps.get(key)
        if cached is None:
            cached = plan.segmenter.segment(frame.image[None])[0]
            if len(self._maps) < MAP_CACHE_FRAMES:
                self._maps[key] = cached
        return cached

    def coded(self, plan: TxPlan, codec: Codec, frame: Frame) -> tuple[Bitstream, dict[str, float]]:
        """The frame's bitstream and the settings the codec chose, coded once per point."""
        cached = self._coded.get(frame.index)
        if cached is None:
            ssm = self.segmentation(plan, frame) if codec.uses_ssm else None
            bitstream = codec.compress(frame.image, ssm)
            cached = (bitstream, dict(bitstream.settings))
            if plan.reuse_key is not None:
                self._coded[frame.index] = cached
        return cached

    def codec_of(self, plan: TxPlan) -> Codec:
        """The unit's codec: built for each new point, shared by the realisations of one point."""
        if self._codec is None or plan.reuse_key is None or plan.reuse_key != self._coded_key:
            self._coded_key, self._coded, self._codec = plan.reuse_key, {}, plan.make_codec()
        return self._codec

    def messages(self) -> Iterator[Message]:
        """Every message of the run, in order."""
        for plan in self.plans:
            yield [encode_message(PointStart(self.run_id, plan.index, plan.key, plan.frames))]
            totals = PointTotals()
            codec = self.codec_of(plan)
            for frame in plan.source.take(plan.frames):
                bitstream, settings = self.coded(plan, codec, frame)
                packets = packetize(
                    bitstream, self.run_id, plan.index, frame.index, plan.mtu, frame.index * plan.frame_interval_us
                )
                parts = [encode_message(p) for p in packets]
                totals.add(len(parts), 8 * chunk_bytes(packets), 8 * sum(len(p) for p in parts), settings)
                yield parts
            yield [encode_message(totals.message(self.run_id, plan.index, plan.key))]
            LOG.info(
                "point %d sent: %d frames, %d packets, %d payload bits",
                plan.index,
                plan.frames,
                totals.packets,
                totals.payload_bits,
            )
            LOG.debug("point %d key: %s", plan.index, plan.key)
        yield [encode_message(End(self.run_id))]


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

    def message(self, run_id: int, point: int, key: str) -> PointEnd:
        """The point's :class:`~semlink.wire.PointEnd`."""
        return PointEnd(
            run_id=run_id,
            point=point,
            key=key,
            packets_sent=self.packets,
            payload_bits=self.payload_bits,
            wire_bits=self.wire_bits,
            frame_packets=tuple(self.frame_packets),
            frame_bits=tuple(self.frame_bits),
            frame_settings=tuple(self.frame_settings),
        )
