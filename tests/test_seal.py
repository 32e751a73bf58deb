"""The seals between nodes: a replayed, reordered, tampered or foreign socket message is dropped
and counted for the rows; the channel model's own reordering is not taken for any of these."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from semlink.channel.base import CHANNELS
from semlink.channel.impairments import Impairments
from semlink.channel.node import ChannelPlan, ChannelStage
from semlink.metrics import build_metrics
from semlink.nodes.sealing import SealedChannel, SealedReceiver
from semlink.receiver.node import PointReport, ReceiverStage
from semlink.results.writer import rejection_columns
from semlink.scenario.loading import load_scenario
from semlink.study.stages import make_channel, make_receiver, make_transmitter
from semlink.study.study import Study
from semlink.wire import (
    RUN_IDS,
    SEAL_BYTES,
    End,
    Opener,
    Packet,
    PointEnd,
    PointStart,
    Sealer,
    WireError,
    encode_message,
    pack_parts,
    read_seal,
    run_keys,
    unpack_parts,
)
from semlink.wire.seal import WINDOW, Window

SECRET = RUN_IDS[0] + 2024
KEYS = run_keys(SECRET)
RUN = KEYS.run_id
KEY = "point-key"


def control(message: End | PointStart | PointEnd) -> bytes:
    """A control message as one packed socket message (unsealed)."""
    return pack_parts([encode_message(message)])


def frame(frame_index: int = 1, count: int = 3) -> bytes:
    """``count`` packets of one frame as one packed socket message (unsealed)."""
    maker = random.Random(frame_index)
    packets = [Packet(RUN, 0, frame_index, "image", i, 1, 0, 1, 1000, maker.randbytes(50)) for i in range(count)]
    return pack_parts([encode_message(p) for p in packets])


def receiver() -> tuple[SealedReceiver, list[PointReport]]:
    """A receiver stage behind its seals, that knows no point (what it is given is counted, not scored)."""
    reports: list[PointReport] = []
    return SealedReceiver(ReceiverStage({}, [], reports.append, RUN), KEYS), reports


def rejected(link: SealedReceiver) -> Counter[str]:
    """The receiver's rejections counted for the next row, but for the points it does not know."""
    return Counter({k: v for k, v in link.stage.point_rejected.items() if k != "rejected:unknown-point"})


def test_the_wire_id_and_the_keys_derive_from_the_secret_and_give_it_away_nowhere() -> None:
    assert RUN_IDS[0] <= RUN <= RUN_IDS[1] and RUN != SECRET
    assert len({KEYS.transmitter, KEYS.channel}) == 2
    assert run_keys(SECRET) == KEYS and run_keys(SECRET + 1).run_id != RUN
    sealed = Sealer(KEYS.channel).seal(control(End(RUN)))
    assert str(SECRET).encode() not in sealed and KEYS.channel not in sealed


def test_a_sealed_message_is_taken_once() -> None:
    link, _ = receiver()
    message = Sealer(KEYS.channel).seal(control(PointStart(RUN, 0, KEY, 1)))
    link.handle([message])
    assert link.stage.heard_run and not rejected(link)


def test_a_replayed_message_is_dropped_and_counted_for_the_row() -> None:
    link, _ = receiver()
    sealer = Sealer(KEYS.channel)
    start, end = sealer.seal(control(PointStart(RUN, 0, KEY, 1))), sealer.seal(control(End(RUN)))
    link.handle([start])
    link.handle([start])  # the same bytes again
    assert rejected(link) == {"rejected:replay": 1}
    assert link.stage.counters["rejected:replay"] == 1
    link.handle([end])
    link.handle([end])
    assert rejected(link)["rejected:replay"] == 2
    assert rejection_columns([report_with(rejected(link))])["rejected_by"] == "rejected:replay=2"


def report_with(counters: Counter[str]) -> PointReport:
    """A report carrying ``counters`` (as the receiver adds its rejections to the point that ends)."""
    sent = PointEnd(RUN, 0, KEY, 0, 0, 0, (), (), ())
    return PointReport(0, KEY, {}, sent, [], dict(counters))


@pytest.mark.parametrize("where", [2, 5, SEAL_BYTES - 1, SEAL_BYTES + 3, -1])
def test_a_tampered_seal_or_body_is_dropped_and_counted(where: int) -> None:
    """A bit flipped in the sequence number, the tag or the body: the tag no longer holds."""
    link, _ = receiver()
    message = bytearray(Sealer(KEYS.channel).seal(control(PointStart(RUN, 0, KEY, 1))))
    message[where] ^= 0x10
    link.handle([bytes(message)])
    assert rejected(link) == {"rejected:bad-mac": 1}
    assert not link.stage.heard_run


def test_unsealed_and_foreign_messages_are_dropped_and_counted() -> None:
    link, _ = receiver()
    link.handle([control(PointStart(RUN, 0, KEY, 1))])  # what the nodes sent before seals
    link.handle([b""])
    link.handle([Sealer(run_keys(SECRET + 1).channel).seal(control(PointStart(RUN, 0, KEY, 1)))])  # another run
    link.handle([Sealer(KEYS.transmitter).seal(control(PointStart(RUN, 0, KEY, 1)))])  # the other hop's key
    link.handle([b"\xc1\x01", b"two parts"])
    assert rejected(link) == {"rejected:unsealed": 2, "rejected:bad-mac": 2, "rejected:multipart": 1}
    assert not link.stage.heard_run


def test_an_older_message_after_a_newer_one_is_stale() -> None:
    link, _ = receiver()
    sealer = Sealer(KEYS.channel)
    first, second = sealer.seal(control(PointStart(RUN, 0, KEY, 1))), sealer.seal(frame())
    link.handle([second])
    link.handle([first])
    assert rejected(link) == {"rejected:stale": 1}


def test_an_earlier_run_with_the_same_secret_is_refused_once_this_one_began() -> None:
    earlier = Sealer(KEYS.channel)
    old = earlier.seal(control(PointStart(RUN, 0, KEY, 1)))
    link, _ = receiver()
    link.handle([Sealer(KEYS.channel).seal(control(PointStart(RUN, 0, KEY, 1)))])  # numbered from a later clock
    link.handle([old])
    assert rejected(link) == {"rejected:stale": 1}


def test_messages_that_never_came_are_counted_in_the_log() -> None:
    link, _ = receiver()
    sealer = Sealer(KEYS.channel)
    messages = [sealer.seal(control(PointStart(RUN, 0, KEY, 1))) for _ in range(4)]
    link.handle([messages[0]])
    link.handle([messages[3]])
    assert link.stage.counters["missing-messages"] == 2 and not rejected(link)


def test_the_window_tells_a_copy_from_a_late_original() -> None:
    window = Window()
    assert window.mark(10) == 0 and window.verdict(10) == "replay" and window.verdict(11) is None
    assert window.mark(13) == 2 and window.verdict(12) == "stale" and window.verdict(10) == "replay"
    assert window.mark(12) == 0 and window.verdict(12) == "replay"
    window.mark(13 + 10 * WINDOW)  # far ahead: what is older than the window is stale, whatever it was
    assert window.verdict(13) == "stale" and window.seen(13 + 10 * WINDOW)


def test_a_wrapped_message_needs_both_seals() -> None:
    inner = read_seal(Sealer(KEYS.transmitter).seal(control(PointStart(RUN, 0, KEY, 1))))
    link, _ = receiver()
    wrapped = Sealer(KEYS.channel).wrap(inner)
    link.handle([wrapped])
    assert link.stage.heard_run and not rejected(link)
    forged = bytearray(wrapped)
    forged[-1] ^= 1  # the body: covered by the transmitter's tag only
    link.handle([Sealer(KEYS.channel).wrap(read_seal(bytes(forged[SEAL_BYTES:])))])
    assert rejected(link) == {"rejected:bad-mac": 1}
    with pytest.raises(ValueError, match="SEALED"):
        Sealer(KEYS.channel).wrap(read_seal(wrapped))


def channel(model: str = "ideal", impairments: Impairments | None = None) -> tuple[SealedChannel, Sealer]:
    """A channel behind its seals with one point of ``model``, and the transmitter's sealer."""
    plan = ChannelPlan(KEY, lambda: CHANNELS.create(model), impairments or Impairments(), (1,))
    link = SealedChannel(ChannelStage({0: plan}, RUN), KEYS)
    transmitter = Sealer(KEYS.transmitter)
    assert len(link.relay([transmitter.seal(control(PointStart(RUN, 0, KEY, 3)))])) == 1
    return link, transmitter


def test_a_replay_to_the_channel_on_an_opaque_point_is_dropped_there_and_reported_in_the_point_end() -> None:
    link, transmitter = channel(impairments=Impairments(delay_ms=5.0))
    message = transmitter.seal(frame())
    assert len(link.relay([message])) == 1
    assert link.relay([message]) == []
    assert link.stage.point_dropped == {"dropped:replay": 1}
    out = link.relay([transmitter.seal(control(PointEnd(RUN, 0, KEY, 3, 1200, 1300, (3,), (1200,), ({},))))])
    opener = Opener(KEYS.channel)
    sealed = read_seal(out[0])
    assert opener.problem(sealed) is None
    assert b"dropped:replay" in bytes(sealed.body)


def test_a_replay_through_an_ideal_point_goes_on_unread_and_the_receiver_drops_it() -> None:
    """The transparent relay hashes no frame: the transmitter's seal goes on inside the channel's,
    and the receiver, which checks both, refuses the copy."""
    link, transmitter = channel()
    assert link.stage.transparent
    message = transmitter.seal(frame())
    first, copy = link.relay([message]), link.relay([message])
    assert len(first) == len(copy) == 1 and first[0].endswith(message) and copy[0].endswith(message)
    rx, _ = receiver()
    for out in (first, copy):
        rx.handle(out)
    assert rejected(rx) == {"rejected:replay": 1}


def test_after_the_point_a_replay_through_the_channel_is_checked_and_dropped_there() -> None:
    link, transmitter = channel()
    message = transmitter.seal(frame())
    link.relay([message])
    link.relay([transmitter.seal(control(PointEnd(RUN, 0, KEY, 3, 1200, 1300, (3,), (1200,), ({},))))])
    assert link.relay([message]) == []
    assert link.stage.point_dropped == {"dropped:replay": 1}


def test_the_channel_drops_what_is_not_the_transmitters() -> None:
    link, _ = channel("bernoulli")
    link.relay([Sealer(KEYS.channel).seal(frame())])  # the receiver's hop key
    link.relay([Sealer(KEYS.transmitter).wrap(read_seal(Sealer(KEYS.transmitter).seal(frame())))])  # a wrapper
    link.relay([frame()])
    assert link.stage.point_dropped == {"dropped:bad-mac": 1, "dropped:unsealed": 2}


def test_what_the_channel_changes_it_seals_anew() -> None:
    link, transmitter = channel(impairments=Impairments(delay_ms=5.0))
    out = link.relay([transmitter.seal(frame())])
    sealed = read_seal(out[0])
    assert Opener(KEYS.channel).problem(sealed) is None and sealed.kind == 1
    assert len(unpack_parts(sealed.body).parts) == 3


def test_an_unsealed_message_is_read_by_no_stage() -> None:
    with pytest.raises(WireError, match="unsealed"):
        read_seal(frame())


SCENARIO = """
name: sealed
seed: 3
data: {source: synthetic, split: val, frames: 4, size: [64, 128]}
codecs: [{name: identity}]
channel: {model: bernoulli, loss: [0.0, 0.2], jitter_ms: 30, reorder: 0.3, duplicate: 0.2}
link: {mtu: 600, fps: 10, deadline_ms: 500}
segmenter: tests.fakes:brightness_segmenter
device: cpu
"""


def pipeline(tmp_path: Path, replay_every: int, sealed: bool = True) -> list[PointReport]:
    """SCENARIO's stages behind their seals, wired as the nodes are (or, not ``sealed``, called
    directly as in one process); with ``replay_every`` > 0, a relay between channel and receiver
    also re-sends each message that many messages later."""
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    study = Study.build(load_scenario(path), str(path))
    metrics = build_metrics(study.scenario.metrics, study.sources.of(study.points[0]).label_set)
    reports: list[PointReport] = []
    tx = make_transmitter(study, KEYS.run_id)
    if not sealed:
        ch, rx = make_channel(study, KEYS.run_id), make_receiver(study, metrics, reports.append, KEYS.run_id)
        for parts in tx.messages():
            if out := ch.process(parts):
                rx.handle(out)
        return reports
    channel_link = SealedChannel(make_channel(study, KEYS.run_id), KEYS)
    receiver_link = SealedReceiver(make_receiver(study, metrics, reports.append, KEYS.run_id), KEYS)
    sealer, sent = Sealer(KEYS.transmitter), []
    for parts in tx.messages():
        for message in channel_link.relay([sealer.seal(pack_parts(parts))]):
            sent.append(message)
            receiver_link.handle([message])
            if replay_every and len(sent) > replay_every:
                receiver_link.handle([sent[-1 - replay_every]])
    assert receiver_link.stage.finished
    return reports


def test_a_replaying_relay_changes_no_row_and_every_row_shows_it(tmp_path: Path) -> None:
    """The channel delays, reorders and duplicates packets (its own numbers on what it sends, so
    none of that is a replay); a relay that re-sends every message three messages later changes
    nothing but the rejection counts, and flags every row."""
    clean, attacked = pipeline(tmp_path, 0), pipeline(tmp_path, 3)
    assert [rejection_columns([r])["rejected"] for r in clean] == ["0", "0"]
    in_process = pipeline(tmp_path, 0, sealed=False)
    assert [r.values for r in clean] == [r.values for r in in_process]
    assert [r.values for r in attacked] == [r.values for r in clean]
    assert [r.frames for r in attacked] == [r.frames for r in clean]
    assert all("rejected:replay=" in rejection_columns([r])["rejected_by"] for r in attacked)
