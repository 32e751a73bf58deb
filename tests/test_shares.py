"""Vehicles spread over several transmitter processes (``vehicles.per_process``): each process
sends its share, the seals tell the senders apart, the channel puts their messages back in the
run's order, and the rows are the same however the vehicles are spread."""

from __future__ import annotations

import csv
import json
import random
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import semlink
from semlink.metrics import build_metrics
from semlink.nodes.merging import Arrival, Merger, arrival_of
from semlink.nodes.sealing import SealedChannel, SealedReceiver
from semlink.nodes.shares import ptr_query, replica_index, resolve_share, reverse_name
from semlink.receiver.node import PointReport
from semlink.scenario.loading import load_scenario
from semlink.scenario.vehicles import VehiclesSpec
from semlink.study.stages import make_channel, make_receiver, make_transmitter
from semlink.study.study import Study
from semlink.study.trials import share_count, share_of
from semlink.wire import RUN_IDS, End, Opener, PointEnd, PointStart, Sealer, encode_message, pack_parts, run_keys

KEYS = run_keys(RUN_IDS[0] + 77)

BASE: dict[str, Any] = {
    "name": "shares",
    "seed": 5,
    "data": {"source": "synthetic", "split": "val", "frames": 3, "size": [64, 128]},
    "codecs": [{"name": "jpeg", "quality": 60}],
    "segmenter": "tests.fakes:brightness_segmenter",
    "metrics": ["miou", "delivery"],
    "device": "cpu",
    "link": {"mtu": 600, "fps": 10, "deadline_ms": 100},
    "channel": {"model": "cell", "scheduler": "round_robin", "bandwidth_mhz": 5, "prbs": 2, "fading": "rayleigh"},
    "vehicles": {"count": [2, 4]},
}


def scenario(tmp_path: Path, name: str = "s", **vehicles: Any) -> Path:
    """BASE with these vehicle settings, as a file."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps({**BASE, "vehicles": {**BASE["vehicles"], **vehicles}}))
    return path


def test_the_shares_split_the_largest_count_and_never_change_a_key(tmp_path: Path) -> None:
    assert VehiclesSpec(count=[1, 8, 32], per_process=8).shares() == 4
    assert VehiclesSpec(count=5, per_process=2).shares() == 3 and VehiclesSpec(count=5).shares() == 1
    with pytest.raises(ValueError, match="more than 64; raise per_process"):
        VehiclesSpec(count=100, per_process=1)
    spread = Study.build(load_scenario(scenario(tmp_path, "a", per_process=1)), "a")
    whole = Study.build(load_scenario(scenario(tmp_path, "b")), "b")
    assert [p.key for p in spread.points] == [p.key for p in whole.points]
    assert share_count(spread.scenario) == 4 and share_count(whole.scenario) == 1


def test_two_senders_under_one_key_are_numbered_apart_and_each_is_checked() -> None:
    first, second, opener = Sealer(KEYS.transmitter, 0), Sealer(KEYS.transmitter, 1), Opener(KEYS.transmitter)
    second.seq = first.seq - 10**6  # the second process's clock is behind: its numbers are lower
    body = pack_parts([encode_message(End(KEYS.run_id))])
    one, two, three = first.seal(body), second.seal(body), second.seal(body)
    from semlink.wire import read_seal

    assert [opener.problem(read_seal(m)) for m in (one, two, three)] == [None, None, None]
    assert opener.problem(read_seal(two)) == "replay" and opener.problem(read_seal(one)) == "replay"
    forged = bytearray(two)
    forged[1] ^= 1 << 3  # another sender under the same number: the tag covers the sender
    assert opener.problem(read_seal(bytes(forged))) == "bad-mac"
    with pytest.raises(ValueError, match="0-63"):
        Sealer(KEYS.transmitter, 64)


def units(order: list[int], owners: dict[int, int], frames: int = 2) -> dict[int, list[Arrival]]:
    """What a transmitter sends per unit: its start, a message per frame, its end."""
    return {
        u: [
            Arrival("start", u, 10, owners[u]),
            *[Arrival("packet", u, 100, owners[u]) for _ in range(frames)],
            Arrival("point-end", u, 10, owners[u]),
        ]
        for u in order
    }


def interleave(shares: list[list[tuple[Arrival, Any]]], merger: Merger[Any], seed: int) -> list[Any]:
    """Push the shares' messages in a random interleaving that keeps each share's order."""
    out, maker = [], random.Random(seed)
    while any(shares):
        share = maker.choice([s for s in shares if s])
        arrival, item = share.pop(0)
        assert merger.refusal(arrival) is None
        out += merger.push(arrival, item)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_merger_gives_the_single_transmitters_order_for_any_interleaving(seed: int) -> None:
    order = [0, 1, 2, 3, 8, 9, 10, 11]  # two realisations of 4 vehicles (stride 4), shares of 2
    owners = {u: (u % 4) // 2 for u in order}
    messages = units(order, owners)
    shares = [[(a, (u, i)) for u in order if owners[u] == k for i, a in enumerate(messages[u])] for k in (0, 1)]
    for k, share in enumerate(shares):
        share.append((Arrival("end", sender=k), ("end", k)))
    merger: Merger[Any] = Merger(owners, 2)
    out = interleave(shares, merger, seed)
    assert out[:-1] == [(u, i) for u in order for i in range(len(messages[u]))] and out[-1][0] == "end"
    assert merger.finished and merger.held_size == 0


@pytest.mark.parametrize("seed", range(4))
def test_a_unit_its_share_never_sends_holds_nothing_up(seed: int) -> None:
    """Share 0 skips unit 0 (a transmitter given --points, or a resumed run): once share 0 has sent
    a later unit, unit 0 is over and share 1's units go on at once, not at the run's end."""
    order, owners = [0, 1, 2, 3], {0: 0, 1: 1, 2: 0, 3: 1}
    messages = units(order, owners)
    zero = [(a, (2, i)) for i, a in enumerate(messages[2])]
    one = [(a, (u, i)) for u in (1, 3) for i, a in enumerate(messages[u])]
    merger: Merger[Any] = Merger(owners, 2)
    out = interleave([zero, one], merger, seed)
    assert out == [(u, i) for u in (1, 2, 3) for i in range(4)]  # all out before any end
    assert merger.held_size == 0 and not merger.finished


def test_what_never_comes_does_not_hold_the_rest_past_the_last_end() -> None:
    merger: Merger[str] = Merger({0: 0, 1: 1, 2: 1}, 2)
    assert merger.push(Arrival("start", 2, 5, 1), "s2") == []  # held: unit 0 (share 0) is due
    assert merger.push(Arrival("end", sender=1), "end-1") == []
    assert merger.push(Arrival("other", sender=0), "stray") == ["stray"]  # not a unit: the stage judges it
    assert merger.push(Arrival("end", sender=0), "end-0") == ["s2", "end-0"]  # unit 0 never came


def test_a_share_that_ends_twice_or_sends_anothers_units_is_refused() -> None:
    """A restarted replica sends its units and its end again; a share with another per_process
    sends units that are not its own; a sender beyond the shares: each dropped with its reason,
    so the run's end goes on only after every share's own."""
    merger: Merger[str] = Merger({0: 0, 1: 1}, 2)
    assert merger.push(Arrival("end", sender=1), "end-1") == []
    assert merger.refusal(Arrival("end", sender=1)) == "after-end"
    assert merger.refusal(Arrival("start", 1, 5, 1)) == "after-end"
    assert merger.refusal(Arrival("start", 1, 5, 0)) == "wrong-share"
    assert merger.refusal(Arrival("start", 0, 5, 2)) == "bad-share"
    assert not merger.finished


def test_a_share_that_is_not_running_is_named_when_the_held_bytes_run_out() -> None:
    merger: Merger[str] = Merger({0: 0, 1: 1}, 2, held_bytes=100)
    with pytest.raises(ValueError, match=r"unit 0 of share 0 is due; is the transmitter of share 0 running"):
        merger.push(Arrival("packet", 1, 101, 1), "big")


def test_arrivals_are_read_from_the_wire() -> None:
    run = KEYS.run_id
    assert arrival_of([encode_message(PointStart(run, 7, "k", 3))], run).role == "start"
    end = PointEnd(run, 7, "k", 0, 0, 0, (), (), ())
    assert arrival_of([encode_message(end)], run) == Arrival("point-end", 7, len(encode_message(end)))
    assert arrival_of([encode_message(End(run))], run).role == "end"
    assert arrival_of([encode_message(End(run + 1))], run).role == "other"
    assert arrival_of([b"\x00junk"], run).role == "other"


@pytest.mark.parametrize(
    ("given", "env", "shares", "name", "expected"),
    [
        ("2", None, 4, "", 2),
        (None, "1", 4, "", 1),
        (None, None, 1, "", 0),
        ("auto", None, 4, "semlink-vehicle-3.semlink_default", 2),
    ],
)
def test_a_transmitter_finds_its_share(
    given: str | None, env: str | None, shares: int, name: str, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv("SEMLINK_SHARE", raising=False)
    else:
        monkeypatch.setenv("SEMLINK_SHARE", env)
    assert resolve_share(given, shares, lambda: name) == expected


def test_a_share_it_cannot_have_is_one_line_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEMLINK_SHARE", raising=False)
    assert replica_index("proj_vehicle_1") == 0 and replica_index("d41f0c2a9e1b") is None
    with pytest.raises(ValueError, match=r"share 4, but the scenario spreads its vehicles over 4 .*--scale vehicle=4"):
        resolve_share("4", 4)
    with pytest.raises(ValueError, match=r"over 4 transmitters \(vehicles.per_process\): give each its --share"):
        resolve_share(None, 4)  # several shares: none is taken for granted
    with pytest.raises(ValueError, match="keeps every vehicle in one transmitter"):
        resolve_share("1", 1)
    with pytest.raises(ValueError, match="ends in no replica number"):
        resolve_share("auto", 4, lambda: "d41f0c2a9e1b")
    for bad in ("first", "²", "-1"):
        with pytest.raises(ValueError, match="must be a share number"):
            resolve_share(bad, 4)


def fake_dns(answer: str | None) -> tuple[socket.socket, threading.Thread]:
    """A one-shot DNS server on a free loopback port answering a PTR query with ``answer`` (a
    compressed name, as Docker's embedded server writes it), or an empty answer for None."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)

    def serve() -> None:
        query, peer = server.recvfrom(512)
        header = query[:2] + struct.pack(">HHHHH", 0x8180, 1, 0 if answer is None else 1, 0, 0)
        reply = header + query[12:]
        if answer is not None:
            labels = answer.split(".")
            first = bytes([len(labels[0])]) + labels[0].encode()
            rest = b"".join(bytes([len(x)]) + x.encode() for x in labels[1:]) + b"\x00"
            rdata = first + rest
            reply += b"\xc0\x0c" + struct.pack(">HHIH", 12, 1, 600, len(rdata)) + rdata
        server.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def test_auto_asks_the_dns_server_not_the_hosts_file_for_the_replicas_name() -> None:
    """Docker's /etc/hosts names a container by its id; its embedded DNS by its compose name."""
    for answer, expected in (("semlink-vehicle-3.semlink_default", "semlink-vehicle-3.semlink_default"), (None, None)):
        server, thread = fake_dns(answer)
        try:
            assert reverse_name("172.18.0.5", server.getsockname(), timeout_s=5) == expected
        finally:
            thread.join(timeout=5)
            server.close()
    assert ptr_query("172.18.0.5", 7)[12:].startswith(b"\x015\x010\x0218\x03172\x07in-addr\x04arpa\x00")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        assert reverse_name("172.18.0.5", silent.getsockname(), timeout_s=0.2) is None  # no answer: none
    finally:
        silent.close()


def reports_through_the_seals(path: Path, shares: int, seed: int) -> list[PointReport]:
    """The study's stages wired as the nodes are: ``shares`` transmitters (each its own sender),
    their messages interleaved at random, the channel's merger, the receiver."""
    study = Study.build(load_scenario(path), str(path))
    metrics = build_metrics(study.scenario.metrics, study.sources.of(study.points[0]).label_set)
    reports: list[PointReport] = []
    owners = {t.index: share_of(study.scenario, t) for t in study.trials()}
    merger: Merger[Any] | None = Merger(owners, shares) if shares > 1 else None
    channel = SealedChannel(make_channel(study, KEYS.run_id), KEYS, merger)
    receiver = SealedReceiver(make_receiver(study, metrics, reports.append, KEYS.run_id), KEYS)
    streams = [
        (Sealer(KEYS.transmitter, k), make_transmitter(study, KEYS.run_id, share=k if shares > 1 else None).messages())
        for k in range(shares)
    ]
    maker = random.Random(seed)
    while streams:
        pick = maker.randrange(len(streams))
        sealer, messages = streams[pick]
        parts = next(messages, None)
        if parts is None:
            streams.pop(pick)
            continue
        for message in channel.relay([sealer.seal(pack_parts(parts))]):
            receiver.handle([message])
    assert receiver.stage.finished
    return reports


def test_the_rows_are_the_same_however_the_vehicles_are_spread(tmp_path: Path) -> None:
    whole = reports_through_the_seals(scenario(tmp_path, "whole"), 1, 0)
    assert len(whole) == 6  # 2 + 4 vehicles
    for per_process, seed in ((1, 1), (3, 2)):
        path = scenario(tmp_path, f"p{per_process}", per_process=per_process)
        shares = -(-4 // per_process)
        got = reports_through_the_seals(path, shares, seed)
        assert [r.index for r in got] == [r.index for r in whole]
        assert [r.values for r in got] == [r.values for r in whole]
        assert [r.frames for r in got] == [r.frames for r in whole]


def read(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows, without the run-dependent columns."""
    with path.open(newline="") as handle:
        return [
            {k: v for k, v in row.items() if k not in {"rejected", "rejected_by"}} for row in csv.DictReader(handle)
        ]


def test_a_run_spread_over_transmitter_processes_writes_the_rows_of_one(tmp_path: Path) -> None:
    """The processes executor starts a transmitter per share; the rows equal the single process's."""
    semlink.run(scenario(tmp_path, "one"), out=tmp_path / "one", report=False, transport="inproc")
    semlink.run(scenario(tmp_path, "two", per_process=2), out=tmp_path / "two", report=False)
    assert sorted(p.name for p in (tmp_path / "two" / "logs").glob("transmitter-*.log")) == [
        "transmitter-0.log",
        "transmitter-1.log",
    ]
    for name in ("results.csv", "vehicles.csv"):
        assert read(tmp_path / "two" / name) == read(tmp_path / "one" / name), name


def test_a_hand_started_transmitter_with_a_share_beyond_the_scenarios_is_refused(tmp_path: Path) -> None:
    path = scenario(tmp_path, per_process=2)
    result = subprocess.run(
        [sys.executable, "-m", "semlink.cli", "transmitter", str(path), "--share", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "semlink: error: this transmitter is share 2, but the scenario spreads its vehicles over 2 "
        "(vehicles.per_process): run 2 transmitters, shares 0-1 (compose: --scale vehicle=2)"
    ]


def test_per_process_without_vehicles_is_refused_in_one_line() -> None:
    """``--set vehicles.per_process=8`` on a scenario without vehicles would make it a road of one."""
    from semlink.errors import ScenarioError
    from semlink.scenario.loading import load_scenario as load

    root = Path(__file__).resolve().parents[1]
    with pytest.raises(ScenarioError, match="per_process spreads the vehicles of a scenario that has some"):
        load(root / "scenarios" / "quickstart.yaml", ["vehicles.per_process=8"])
    assert load(root / "scenarios" / "v2x-cell.yaml", ["vehicles.per_process=8"]).vehicles.shares() == 4  # type: ignore[union-attr]
