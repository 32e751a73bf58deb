"""The receiver stage: wire messages -> reassembly -> decode (with concealment) -> scores per point."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from semlink.codecs.base import Codec, ReceivedBitstream, grey
from semlink.data.frame import FrameSource
from semlink.metrics.base import Metric
from semlink.receiver.evaluator import Evaluator
from semlink.receiver.reassembly import FrameArrival, Reassembler
from semlink.vision.segmenter import Segmenter
from semlink.wire import ControlMessage, End, Packet, PointEnd, PointStart, WireError, decode_message, read_message
from semlink.workcache import WorkCache, digest, environment, pack_array, unpack_array


@dataclass(frozen=True)
class LinkTiming:
    """Reassembly timing: frame interval, deadline (None: none), window, concealment mode."""

    frame_interval_us: int
    deadline_us: int | None
    window: int
    conceal: str = "repeat"


@dataclass(frozen=True)
class RxPlan:
    """What the receiver needs of one unit (a sweep point, or one realisation of it).

    :param key: the unit's stable key. :param make_codec: builds the decoder.
    :param frames: frames in the unit. :param deliver_corrupt: accept packets whose CRC failed.
    :param source: the frames (labels travel out of band). :param segmenter: labels the reconstructions.
    :param timing: reassembly timing.
    :param codec_key: the codec's name and settings as the work cache keys them (empty: not cached).
    :param segmenter_key: the segmenter's identity (empty: its maps are not cached).
    :param batch: frames decoded together (``Codec.decompress_batch``); above 1, every decode the
        point computes runs in a batch of exactly this many (padded), and the size is part of its
        cache key, so a result never depends on which frames happened to be decoded together.
    """

    key: str
    make_codec: Callable[[], Codec]
    frames: int
    deliver_corrupt: bool
    source: FrameSource
    segmenter: Segmenter
    timing: LinkTiming
    codec_key: str = ""
    segmenter_key: str = ""
    batch: int = 1


@dataclass
class FrameRecord:
    """One frame's fate at the receiver."""

    frame: int
    packets_received: int
    complete: bool
    concealed: bool
    latency_ms: float | None


def with_sent_packets(records: list[FrameRecord], frame_packets: Sequence[int]) -> list[FrameRecord]:
    """Records whose ``complete`` also requires every packet the transmitter sent for the frame.

    A frame whose last packets (a whole stream's) were lost looks complete from what arrived; the
    transmitter's ``point-end`` lists each frame's packet count, which settles it.
    """
    out = []
    for record in records:
        sent = frame_packets[record.frame] if 0 <= record.frame < len(frame_packets) else None
        if sent is not None and record.packets_received < sent:
            record = dataclasses.replace(record, complete=False)
        out.append(record)
    return out


@dataclass
class PointReport:
    """Everything the receiver learned about one point, handed to the results writer.

    :param index: the unit's number. :param key: its key.
    :param values: metric name -> one value per frame, in the order of ``frames``.
    :param sent: the transmitter's ``point-end`` (packets, bits, per-frame counts), with the radio's totals.
    :param frames: one record per frame. :param counters: receiver counters (rejects by reason, late, ...).
    """

    index: int
    key: str
    values: dict[str, list[Any]]
    sent: PointEnd
    frames: list[FrameRecord]
    counters: dict[str, int] = field(default_factory=dict)


class ReceiverStage:
    """Handles messages from the channel; calls ``on_point`` with a :class:`PointReport` per finished point.

    Malformed input, messages of another run (``rejected:foreign-run``), a control message of the
    run before its first ``point-start`` (``rejected:before-start``: only a run that began can end)
    and points this stage does not know (another scenario's) are rejected and counted by reason;
    nothing that arrives can raise out of :meth:`handle`.

    :param plans: unit number -> plan.
    :param metrics: what is scored of every frame.
    :param on_point: receives each finished unit.
    :param run_id: the run whose messages this stage takes.
    :param skip: keys of units already scored (their packets are counted and dropped).
    :param cache: the work cache of reconstructions and their segmentations (default: none, only counting).
    """

    def __init__(
        self,
        plans: dict[int, RxPlan],
        metrics: Sequence[Metric],
        on_point: Callable[[PointReport], None],
        run_id: int,
        skip: set[str] | None = None,
        cache: WorkCache | None = None,
    ) -> None:
        self.plans, self.metrics, self.run_id = plans, list(metrics), run_id
        self.cache = cache or WorkCache(None)
        self.on_point = on_point
        self.skip = skip or set()
        self.counters: Counter[str] = Counter()
        self.point_rejected: Counter[str] = Counter()  # rejections since the last point ended
        self.finished = False
        self.on_frame: Callable[[int, int], None] | None = None
        self._point: _OpenPoint | None = None
        self.heard_run = False
        """Whether a control message of this run has arrived (its sender is the real channel)."""
        self.started = False
        """Whether a ``point-start`` of this run has arrived (an ``end`` before it is rejected:
        ``before-start``)."""

    def handle_message(self, frames: list[bytes]) -> None:
        """One socket message (its ZeroMQ parts, see :mod:`semlink.wire.batch`)."""
        try:
            batch = read_message(frames)
        except WireError as error:
            self._reject(error.reason)
            return
        if batch.skipped:
            self._reject("too-many-parts", batch.skipped)
        self.handle(batch.parts)

    def handle(self, parts: list[bytes]) -> None:
        """One message (one or more packets, or one control message)."""
        for part in parts:
            self._handle_part(part)

    def _handle_part(self, data: bytes) -> None:
        accept_bad = self._point is not None and self._point.plan.deliver_corrupt
        try:
            decoded = decode_message(data, accept_bad_crc=accept_bad)
        except WireError as error:
            self._reject(error.reason)
            return
        message = decoded.message
        if message.run_id != self.run_id:
            self._reject("foreign-run")
        elif not isinstance(message, Packet):
            if not self.started and not isinstance(message, PointStart):
                self._reject("before-start")  # nothing of the run began: no channel relayed this
                return
            self.started = self.heard_run = True
            self._control(message)
        elif self._point is None or message.point != self._point.index:
            self.counters["stale"] += 1
        else:
            if not decoded.crc_ok:
                self.counters["corrupt-delivered"] += 1
            self._point.add(message)

    def _reject(self, reason: str, count: int = 1) -> None:
        """Count rejected messages, for the run and for the point that ends next."""
        self.counters[f"rejected:{reason}"] += count
        self.point_rejected[f"rejected:{reason}"] += count

    def _control(self, control: ControlMessage) -> None:
        if isinstance(control, PointStart):
            plan = self.plans.get(control.point)
            if plan is None or plan.key != control.key:
                # Another scenario's point (or a forged message): count it, ignore its packets.
                self._reject("unknown-point")
                self._point = None
                return
            if plan.key in self.skip:
                self.counters["skipped-done-point"] += 1
                self._point = None
                return
            if control.frames != plan.frames:
                self._reject("frames-mismatch")
                self._point = None
                return
            self._point = _OpenPoint(control.point, plan, self)
        elif isinstance(control, PointEnd) and self._point is not None and control.point == self._point.index:
            report = self._point.finish(control)
            report.counters.update({**control.dropped, **self.point_rejected})
            self.point_rejected = Counter()
            self.on_point(report)
            self._point = None
        elif isinstance(control, End):
            self.finished = True


class _OpenPoint:
    """The state of the point being received."""

    def __init__(self, index: int, plan: RxPlan, stage: ReceiverStage) -> None:
        timing = plan.timing
        self.index, self.plan, self.stage = index, plan, stage
        self.codec = plan.make_codec()
        self.codec_id = (
            digest(plan.codec_key, self.codec.cache_version, self.codec.model_identity(), environment())
            if plan.codec_key
            else ""
        )
        self.reassembler = Reassembler(plan.frames, timing.frame_interval_us, timing.deadline_us, timing.window)
        self.evaluator = Evaluator(
            plan.segmenter, plan.source.label_set, stage.metrics, cache=stage.cache, segmenter_key=plan.segmenter_key
        )
        self.records: list[FrameRecord] = []
        self.last_good: np.ndarray | None = None
        self.pending: list[FrameArrival] = []

    def add(self, packet: Packet) -> None:
        """Reassemble a packet and decode the frames it lets close (``batch`` of them at a time)."""
        self.reassembler.add(packet)
        self.pending.extend(self.reassembler.ready())
        if len(self.pending) >= self.plan.batch:
            self._decode_pending()

    def _decode_pending(self) -> None:
        """Decode the frames waiting, then record them in frame order."""
        arrivals, self.pending = self.pending, []
        shapes = [self.plan.source.frame(a.frame).image.shape[:2] for a in arrivals]
        recons = self._decompress_all(arrivals, shapes)
        for arrival, recon in zip(arrivals, recons, strict=True):
            self._record(arrival, recon)

    def _record(self, arrival: FrameArrival, recon: np.ndarray | None) -> None:
        frame = self.plan.source.frame(arrival.frame)
        concealed = recon is None
        if recon is None:
            recon = self.last_good if self.last_good is not None and self.plan.timing.conceal == "repeat" else None
            recon = recon if recon is not None else grey(frame.image.shape[:2])
        else:
            self.last_good = recon
        latency = None
        if arrival.last_t_us is not None and not concealed:
            latency = (arrival.last_t_us - arrival.frame * self.plan.timing.frame_interval_us) / 1000.0
        record = FrameRecord(arrival.frame, arrival.packets, arrival.complete, concealed, latency)
        self.records.append(record)
        self.evaluator.add(frame, recon, record)
        if self.stage.on_frame is not None:
            self.stage.on_frame(self.index, len(self.records))

    def _decompress_all(self, arrivals: list[FrameArrival], shapes: list[tuple[int, int]]) -> list[np.ndarray | None]:
        """The codec's reconstructions (once per codec and pattern of received bytes, through the
        work cache); None where nothing arrived or what arrived cannot be decoded (counted)."""
        cache, work = self.stage.cache, self.stage.cache.stats.stage("decode")
        out: list[np.ndarray | None] = [None] * len(arrivals)
        todo: list[tuple[int, ReceivedBitstream, str | None]] = []
        for number, (arrival, shape) in enumerate(zip(arrivals, shapes, strict=True)):
            if all(c is None for chunks in arrival.chunks.values() for c in chunks):
                continue
            received = arrival.received(shape)
            key = received_key(self.codec_id, received, self.plan.batch) if self.codec_id else None
            payload = None if key is None else cache.read("decode", key)
            if payload is not None:
                work.hits += 1
                out[number] = unpack_array(payload)
            else:
                todo.append((number, received, key))
        if not todo:
            return out
        started = time.perf_counter()
        images = self._decode_batches([received for _, received, _ in todo])
        work.seconds += time.perf_counter() - started
        for (number, _, key), image in zip(todo, images, strict=True):
            out[number] = image
            if image is not None:
                work.computed += 1
                if key is not None:
                    cache.write("decode", key, pack_array(image))
        return out

    def _decode_batches(self, received: list[ReceivedBitstream]) -> list[np.ndarray | None]:
        """Decode in batches of exactly ``batch`` (the last padded with copies of its first frame)."""
        size = self.plan.batch
        out: list[np.ndarray | None] = []
        for start in range(0, len(received), size):
            out.extend(self._decode_group(received[start : start + size], size))
        return out

    def _decode_group(self, group: list[ReceivedBitstream], size: int) -> list[np.ndarray | None]:
        """One batch of ``size`` (padded); if it fails, its frames one by one, each still in a batch
        of ``size`` (so the pass, and its rounding, are the same), and a damaged frame costs only itself."""
        if size > 1:
            with contextlib.suppress(Exception):  # decoded one by one below, where a failure is counted
                return list(self.codec.decompress_batch(group + [group[0]] * (size - len(group)))[: len(group)])
        out: list[np.ndarray | None] = []
        for one in group:
            try:
                out.append(self.codec.decompress(one) if size == 1 else self.codec.decompress_batch([one] * size)[0])
            except Exception:  # a damaged or a user's codec must not stop the receiver
                self.stage.counters["decode-failed"] += 1
                out.append(None)
        return out

    def finish(self, sent: PointEnd) -> PointReport:
        """Close the remaining frames and hand back the point's report."""
        self.pending.extend(self.reassembler.flush())
        self._decode_pending()
        self.records = with_sent_packets(self.records, sent.frame_packets)
        counters = dict(self.reassembler.counters)
        values = self.evaluator.values(self.records)
        return PointReport(self.index, self.plan.key, values, sent, self.records, counters)


def received_key(codec_id: str, received: ReceivedBitstream, batch: int = 1) -> str:
    """The work cache's key of a decode: the codec, the decode batch size (above 1) and every chunk
    that arrived, in place (a lost chunk and a damaged one are part of the pattern), so equal
    deliveries decode once."""
    parts: list[bytes | str] = ["decode", codec_id, f"{received.shape}"]
    if batch > 1:
        parts.append(f"batch {batch}")
    for name in sorted(received.chunks):
        parts.append(name)
        parts.extend(b"-" if chunk is None else b"+" + chunk for chunk in received.chunks[name])
    return digest(*parts)
