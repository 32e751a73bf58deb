"""The stage objects in one process: honest bits, control messages survive any loss, damaged packets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from semlink.codecs import CODECS
from semlink.metrics import build_metrics
from semlink.receiver.node import PointReport
from semlink.results.writer import rejection_columns
from semlink.scenario.loading import load_scenario
from semlink.scenario.schema import Scenario
from semlink.study.stages import make_channel, make_receiver, make_transmitter
from semlink.study.study import Study
from semlink.study.trials import run_id
from semlink.transmitter.node import TransmitterStage
from semlink.wire import MAX_BATCH_BYTES, End, Packet, PointStart, decode_message, encode_message, pack_parts

SCENARIO = """
name: stages
seed: 5
data: {{source: synthetic, split: val, frames: 3, size: [64, 128]}}
codecs: [{{name: {codec}{knob}}}]
channel: {channel}
link: {{mtu: 300, fps: 10, deadline_ms: 100}}
segmenter: tests.fakes:brightness_segmenter
device: cpu
"""


RUN = run_id(Scenario.model_validate({"name": "stages", "seed": 5, "codecs": [{"name": "identity"}]}))
"""The run id of SCENARIO's stages (derived from its name and seed)."""


def build(  # type: ignore[no-untyped-def]
    tmp_path: Path,
    channel: str,
    codec: str = "identity",
    knob: str | None = None,
    value: float = 1.0,
    edits: tuple[tuple[str, str], ...] = (),
):
    """The three stages of SCENARIO (with ``edits``: (old, new) replacements in its text)."""
    path = tmp_path / "s.yaml"
    setting = f", {knob}: {value}" if knob is not None else ""
    text = SCENARIO.format(channel=channel, codec=codec, knob=setting)
    for old, new in edits:
        text = text.replace(old, new)
    path.write_text(text)
    study = Study.build(load_scenario(path), str(path))
    reports: list[PointReport] = []
    metrics = build_metrics(study.scenario.metrics, study.sources.of(study.points[0]).label_set)
    run = run_id(study.scenario)
    tx = make_transmitter(study, run)
    ch = make_channel(study, run)
    rx = make_receiver(study, metrics, reports.append, run)
    return study.sources.of(study.points[0]), tx, ch, rx, reports


def run(tx, ch, rx) -> None:  # type: ignore[no-untyped-def]
    for parts in tx.messages():
        out = ch.process(parts)
        if out:
            rx.handle(out)


@pytest.mark.parametrize(("codec", "knob", "value"), [("identity", None, 1.0), ("jpeg", "target_bpp", 0.5)])
def test_bits_reported_are_the_chunk_bytes_in_the_packets(
    tmp_path: Path, codec: str, knob: str | None, value: float
) -> None:
    source, tx, ch, rx, reports = build(tmp_path, "{model: ideal}", codec, knob, value)
    payload_bits = 0
    for parts in tx.messages():
        for part in parts:
            message = decode_message(part).message
            if isinstance(message, Packet):
                payload_bits += 8 * len(message.payload)
        out = ch.process(parts)
        if out:
            rx.handle(out)
    sent = reports[0].sent
    kwargs = {knob: value} if knob is not None else {}
    expected = sum(CODECS.create(codec, **kwargs).compress(f.image).bits for f in source.take(3))
    assert sent.payload_bits == expected
    assert sent.packets_sent > 3
    assert payload_bits > sent.payload_bits  # framing is counted apart, in bpp_wire
    assert sent.wire_bits > payload_bits


def test_control_messages_cross_a_channel_that_loses_everything(tmp_path: Path) -> None:
    _, tx, ch, rx, reports = build(tmp_path, "{model: bernoulli, loss: 1.0}")
    run(tx, ch, rx)
    assert rx.finished and len(reports) == 1
    report = reports[0]
    assert [f.concealed for f in report.frames] == [True, True, True]
    assert len(report.frames) == 3  # concealed frames are scored, never skipped
    assert ch.counters["erased"] == report.sent.packets_sent


def test_bit_errors_become_erasures_unless_delivered(tmp_path: Path) -> None:
    _, tx, ch, rx, reports = build(tmp_path, "{model: bsc, ber: 0.001}")
    run(tx, ch, rx)
    assert rx.counters["rejected:bad-crc"] + rx.counters["rejected:not-msgpack"] > 0
    _, tx, ch, rx, reports = build(tmp_path, "{model: bsc, ber: 0.001, deliver_corrupt: true}")
    run(tx, ch, rx)
    assert rx.counters["corrupt-delivered"] > 0
    assert all(f.packets_received == reports[0].sent.frame_packets[f.frame] for f in reports[0].frames)


def test_garbage_and_stale_packets_are_counted_not_raised(tmp_path: Path) -> None:
    _, _, ch, rx, _ = build(tmp_path, "{model: ideal}")
    rx.handle([b"", b"\x00" * 50, b"\x92\x01\xa3ctl"])
    rx.handle([encode_stale()])
    assert rx.counters["stale"] == 1
    assert sum(v for k, v in rx.counters.items() if k.startswith("rejected:")) == 3
    assert ch.process([b"junk"]) == []


def encode_stale() -> bytes:
    return encode_message(Packet(RUN, 99, 0, "image", 0, 1, 0, 1, 0, b"\x00\x01\x00\x00\x00\x00"))


def test_points_of_another_scenario_are_counted_and_dropped(tmp_path: Path) -> None:
    _, _, ch, rx, reports = build(tmp_path, "{model: ideal}")
    start = [encode_message(PointStart(RUN, 0, "another", 3))]
    assert ch.process(start) == start
    rx.handle(start)
    packet = [encode_message(Packet(RUN, 0, 0, "image", 0, 1, 0, 1, 0, b"\x00\x01\x00\x00\x00\x00"))]
    assert ch.process(packet) == []
    rx.handle(packet)
    assert ch.counters["unknown-point"] == 1
    assert rx.counters["rejected:unknown-point"] == 1 and rx.counters["stale"] == 1
    assert reports == []


def test_undecodable_frames_are_concealed_with_the_last_good_one(tmp_path: Path) -> None:
    _, tx, ch, rx, reports = build(
        tmp_path, "{model: bsc, ber: 0.002, deliver_corrupt: true}", "jpeg", "target_bpp", 1.0
    )
    run(tx, ch, rx)
    frames = reports[0].frames
    assert rx.counters["decode-failed"] > 0
    assert sum(f.concealed for f in frames) == rx.counters["decode-failed"]
    assert all(f.latency_ms is None for f in frames if f.concealed)


def test_receiver_does_not_score_points_already_done(tmp_path: Path) -> None:
    _, tx, ch, _, _ = build(tmp_path, "{model: ideal}")
    from semlink.scenario.loading import load_scenario
    from semlink.study.stages import make_stages

    study = Study.build(load_scenario(tmp_path / "s.yaml"), "s.yaml")
    reports: list[PointReport] = []
    _, _, rx = make_stages(study, reports.append, run_id(study.scenario), skip={study.points[0].key})
    run(tx, ch, rx)
    assert reports == [] and rx.counters["skipped-done-point"] == 1


def test_traffic_of_another_run_never_touches_a_point(tmp_path: Path) -> None:
    """Valid packets and control messages of another run, mixed into a run, change nothing."""
    _, tx, ch, rx, reports = build(tmp_path, "{model: bernoulli, loss: 0.3}")
    run(tx, ch, rx)
    clean = [(r.values, r.sent) for r in reports]
    _, tx, ch, rx, reports = build(tmp_path, "{model: bernoulli, loss: 0.3}")
    other = RUN + 1
    foreign = [
        [encode_message(PointStart(other, 0, reports_key(tx), 3))],
        [encode_message(Packet(other, 0, 0, "image", 0, 1, 0, 1, 0, b"\x00\x01\x00\x00\x00\x00"))] * 5,
        [encode_message(End(other))],
    ]
    for parts in tx.messages():
        for extra in foreign:
            ch.process(extra)
            rx.handle(extra)
        out = ch.process(parts)
        if out:
            rx.handle(out)
    assert [(r.values, dataclasses.replace(r.sent, dropped={})) for r in reports] == clean
    assert ch.counters["dropped:foreign-run"] == rx.counters["rejected:foreign-run"] > 0
    for report in reports:  # each point is flagged with what arrived while it was open
        assert report.counters["rejected:foreign-run"] > 0 and report.counters["dropped:foreign-run"] > 0
        assert report.sent.dropped["dropped:foreign-run"] == report.counters["dropped:foreign-run"]
    columns = rejection_columns(reports)
    assert int(columns["rejected"]) > 0 and "rejected:foreign-run=" in columns["rejected_by"]
    assert rejection_columns([dataclasses.replace(reports[0], counters={})]) == {"rejected": "0", "rejected_by": ""}


def test_traffic_turned_away_between_points_is_flagged_in_the_next_row(tmp_path: Path) -> None:
    """A foreign message that arrives before a point starts (or between two points) lands in the
    row of the point that ends next, so a short point cannot hide it; after the last end it is
    counted for the run only."""
    _, tx, ch, rx, reports = build(tmp_path, "{model: bernoulli, loss: [0.1, 0.3]}")
    foreign = [encode_message(Packet(RUN + 1, 0, 0, "image", 0, 1, 0, 1, 0, b"\x00\x01\x00\x00\x00\x00"))]
    between = 0
    for parts in [*tx.messages(), None]:
        opens = parts is None or isinstance(decode_message(parts[0]).message, PointStart | End)
        if opens:  # only outside a point: before each start, and after the last end
            ch.process(foreign)
            rx.handle(foreign)
            between += 1
        if parts is not None and (out := ch.process(parts)):
            rx.handle(out)
    assert len(reports) == 2 and between == 4  # two starts, End, and after End
    for report in reports:
        assert report.counters["dropped:foreign-run"] == report.counters["rejected:foreign-run"] == 1
    assert ch.counters["dropped:foreign-run"] == rx.counters["rejected:foreign-run"] == 4


def reports_key(tx: TransmitterStage) -> str:
    return tx.plans[0].key


def test_a_frame_larger_than_a_socket_message_goes_as_several_and_arrives_whole(tmp_path: Path) -> None:
    """An identity frame of 1024 x 1536 (4.7 MB) exceeds one socket message: the transmitter splits
    it and the receiver reassembles it from both messages."""
    edits = (("frames: 3, size: [64, 128]", "frames: 1, size: [1024, 1536]"), ("mtu: 300", "mtu: 60000"))
    _, tx, ch, rx, reports = build(tmp_path, "{model: ideal}", edits=edits)
    messages = list(tx.messages())
    data = [parts for parts in messages if len(parts) > 1]
    assert len(data) == 2 and all(len(pack_parts(parts)) <= MAX_BATCH_BYTES for parts in data)
    for parts in messages:
        if out := ch.process(parts):
            rx.handle(out)
    (report,) = reports
    (frame,) = report.frames
    assert not frame.concealed and frame.packets_received == report.sent.packets_sent == sum(map(len, data))
