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
from semlink.wire import End, PointEnd, PointStart, encode_message, split_parts
from semlink.workcache import (
    WorkCache,
    array_key,
    digest,
    environment,
    pack_array,
    pack_bitstream,
    unpack_array,
    unpack_bitstream,
)

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
    :param codec_key: the codec's name and settings as the work cache keys them.
    :param segmenter_key: the segmenter's identity (:func:`~semlink.vision.segmenter.segmenter_identity`).
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
    codec_key: str = ""
    segmenter_key: str = ""


class TransmitterStage:
    """Turns each unit's frames into wire messages: one message per frame, one part per packet.

    Every unit is framed by a ``point-start`` and a ``point-end`` control message (the latter
    carrying what was sent), and the run ends with ``end``.

    :param plans: the units to send, in order.
    :param run_id: tags every message of this run.
    :param cache: the work cache of source segmentations and bitstreams (default: none, only counting).
    :param batch: frames segmented and coded together (:meth:`Codec.compress_batch`); the bitstreams
        do not depend on it.
    """

    def __init__(self, plans: list[TxPlan], run_id: int, cache: WorkCache | None = None, batch: int = 1) -> None:
        self.plans, self.run_id, self.batch = plans, run_id, max(1, batch)
        self.cache = cache or WorkCache(None)
        self._maps: dict[tuple[int, int, int], tuple[np.ndarray, str]] = {}
        self._overflow: dict[tuple[int, int, int], tuple[np.ndarray, str]] = {}
        self._frame_keys: dict[tuple[int, int], str] = {}
        self._codec_id: tuple[str | None, str] = (None, "")
        self._coded_key: str | None = None
        self._coded: dict[int, tuple[Bitstream, dict[str, float]]] = {}
        self._codec: Codec | None = None

    def frame_key(self, plan: TxPlan, frame: Frame) -> str:
        """The work cache's key of the frame's pixels, hashed once per frame."""
        key = (id(plan.source), frame.index)
        if key not in self._frame_keys:
            self._frame_keys[key] = array_key(frame.image)
        return self._frame_keys[key]

    def segmentations(self, plan: TxPlan, frames: list[Frame]) -> list[tuple[np.ndarray, str]]:
        """The segmenter's maps of ``frames`` and their cache keys: each computed once per frame and
        segmenter (kept in memory for the run's points, and in the work cache for other runs), the
        missing ones in one batch."""
        segmenter = plan.segmenter
        if segmenter is None:
            raise ValueError("a codec needs the segmentation map but the transmitter has no segmenter")
        memory = [(id(segmenter), id(plan.source), frame.index) for frame in frames]
        todo = [i for i, key in enumerate(memory) if key not in self._maps]
        if todo:
            keys = [digest("segment-source", plan.segmenter_key, self.frame_key(plan, frames[i])) for i in todo]

            def compute(positions: list[int]) -> list[np.ndarray]:
                return list(segmenter.segment(np.stack([frames[todo[p]].image for p in positions])))

            stored: list[str | None] = list(keys) if plan.segmenter_key else [None] * len(keys)
            maps = self.cache.get_many("segment-source", stored, compute, pack_array, unpack_array)
            for i, ssm, key in zip(todo, maps, keys, strict=True):
                if len(self._maps) < MAP_CACHE_FRAMES:
                    self._maps[memory[i]] = (ssm, key)
                else:  # beyond the memory bound: keep it for this call only
                    self._overflow[memory[i]] = (ssm, key)
        found = [self._maps.get(key) or self._overflow.pop(key) for key in memory]
        return found

    def codec_identity(self, plan: TxPlan, codec: Codec) -> str:
        """The codec's part of the work cache's keys: its settings, version, model and the code's versions."""
        if self._codec_id[0] != plan.key:
            parts = (plan.codec_key, codec.cache_version, codec.model_identity(), environment())
            self._codec_id = (plan.key, digest(*parts))
        return self._codec_id[1]

    def coded(self, plan: TxPlan, codec: Codec, frames: list[Frame]) -> list[tuple[Bitstream, dict[str, float]]]:
        """The frames' bitstreams and the settings the codec chose: coded once per point, once per
        (frame, codec setting, map) across points and runs through the work cache, and the missing
        ones together (:meth:`Codec.compress_batch`)."""
        todo = [i for i, frame in enumerate(frames) if frame.index not in self._coded]
        if todo:
            maps = self.segmentations(plan, [frames[i] for i in todo]) if codec.uses_ssm else [(None, "")] * len(todo)
            keyed = bool(plan.codec_key) and (not codec.uses_ssm or bool(plan.segmenter_key))
            identity = self.codec_identity(plan, codec)
            keys: list[str | None] = [
                digest("encode", identity, self.frame_key(plan, frames[i]), map_key) if keyed else None
                for i, (_, map_key) in zip(todo, maps, strict=True)
            ]

            def compute(positions: list[int]) -> list[Bitstream]:
                images = [frames[todo[p]].image for p in positions]
                return codec.compress_batch(images, [maps[p][0] for p in positions])

            bitstreams = self.cache.get_many("encode", keys, compute, pack_bitstream, unpack_bitstream)
            for i, bitstream in zip(todo, bitstreams, strict=True):
                self._coded[frames[i].index] = (bitstream, dict(bitstream.settings))
        out = [self._coded[frame.index] for frame in frames]
        if plan.reuse_key is None:  # nothing shares these bitstreams: keep none of them
            self._coded = {}
        return out

    def coded_frames(self, plan: TxPlan, codec: Codec) -> Iterator[tuple[Frame, tuple[Bitstream, dict[str, float]]]]:
        """The unit's frames with their bitstreams, coded ``batch`` frames at a time."""
        frames = list(plan.source.take(plan.frames))
        for start in range(0, len(frames), self.batch):
            chunk = frames[start : start + self.batch]
            yield from zip(chunk, self.coded(plan, codec, chunk), strict=True)

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
            for frame, (bitstream, settings) in self.coded_frames(plan, codec):
                packets = packetize(
                    bitstream, self.run_id, plan.index, frame.index, plan.mtu, frame.index * plan.frame_interval_us
                )
                parts = [encode_message(p) for p in packets]
                totals.add(len(parts), 8 * chunk_bytes(packets), 8 * sum(len(p) for p in parts), settings)
                yield from split_parts(parts)  # a frame too large for one socket message goes as several
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
