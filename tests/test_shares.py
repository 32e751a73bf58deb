"""Vehicles spread over several transmitter processes (``vehicles.per_process``): each process
sends its share, the seals tell the senders apart, the channel puts their messages back in the
run's order, and the rows are the same however the vehicles are spread."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import semlink
from semlink.metrics import build_metrics
from semlink.nodes.merging import Arrival, Merger, arrival_of
from semlink.nodes.sealing import SealedChannel, SealedReceiver
from semlink.nodes.shares import replica_index, resolve_share
from semlink.receiver.node import PointReport
from semlink.scenario.loading import load_scenario
from semlink.scenario.vehicles import VehiclesSpec
from semlink.study.stages import make_channel, make_receiver, make_transmitter
from semlink.study.study import Study
from semlink.study.trials import share_count
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


def units(order: list[int], frames: int = 2) -> dict[int, list[Arrival]]:
    """What a transmitter sends per unit: its start, a message per frame, its end."""
    return {
        u: [Arrival("start", u, 10), *[Arrival("packet", u, 100) for _ in range(frames)], Arrival("point-end", u, 10)]
        for u in order
    }


@pytest.mark.parametrize("seed", range(6))
def test_the_merger_gives_the_single_transmitters_order_for_any_interleaving(seed: int) -> None:
    order = [0, 1, 2, 3, 8, 9, 10, 11]  # two realisations of 4 vehicles (stride 4), shares of 2
    messages = units(order)
    shares = [[(a, (u, i)) for u in order if (u % 4) // 2 == k for i, a in enumerate(messages[u])] for k in (0, 1)]
    for share in shares:
        share.append((Arrival("end"), ("end", 0)))
    merger: Merger[tuple[object, int]] = Merger(order, 2)
    out, maker = [], random.Random(seed)
    while any(shares):
        share = maker.choice([s for s in shares if s])
        arrival, item = share.pop(0)
        out += merger.push(arrival, item)
    assert out == [*[(u, i) for u in order for i in range(len(messages[u]))], ("end", 0)]
    assert merger.finished and merger.held_size == 0


def test_what_never_comes_does_not_hold_the_rest_past_the_last_end() -> None:
    merger: Merger[str] = Merger([0, 1, 2], 2)
    assert merger.push(Arrival("start", 1, 5), "s1") == [] and merger.push(Arrival("point-end", 1, 5), "e1") == []
    assert merger.push(Arrival("end"), "end-a") == []
    assert merger.push(Arrival("other"), "stray") == ["stray"]  # not a unit: the stage judges it at once
    assert merger.push(Arrival("end"), "end-b") == ["s1", "e1", "end-b"]  # unit 0 never came


def test_a_share_that_runs_too_far_ahead_is_one_line() -> None:
    merger: Merger[str] = Merger([0, 1], 2, held_bytes=100)
    with pytest.raises(ValueError, match=r"held while unit 0 is due; raise vehicles\.per_process"):
        merger.push(Arrival("packet", 1, 101), "big")


def test_arrivals_are_read_from_the_wire() -> None:
    run = KEYS.run_id
    assert arrival_of([encode_message(PointStart(run, 7, "k", 3))], run).role == "start"
    end = PointEnd(run, 7, "k", 0, 0, 0, (), (), ())
    assert arrival_of([encode_message(end)], run) == Arrival("point-end", 7, len(encode_message(end)))
    assert arrival_of([encode_message(End(run))], run).role == "end"
    assert arrival_of([encode_message(End(run + 1))], run).role == "other"
    assert arrival_of([b"\x00junk"], run).role == "other"


@pytest.mark.parametrize(
    ("given", "env", "name", "expected"),
    [
        ("2", None, "", 2),
        (None, "1", "", 1),
        (None, None, "", 0),
        ("auto", None, "semlink-vehicle-3.semlink_default", 2),
    ],
)
def test_a_transmitter_finds_its_share(
    given: str | None, env: str | None, name: str, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv("SEMLINK_SHARE", raising=False)
    else:
        monkeypatch.setenv("SEMLINK_SHARE", env)
    assert resolve_share(given, 4, lambda: name) == expected


def test_a_share_it_cannot_have_is_one_line_naming_the_fix() -> None:
    assert replica_index("proj_vehicle_1") == 0 and replica_index("d41f0c2a9e1b") is None
    with pytest.raises(ValueError, match=r"share 4, but the scenario spreads its vehicles over 4 .*--scale vehicle=4"):
        resolve_share("4", 4)
    with pytest.raises(ValueError, match="ends in no replica number"):
        resolve_share("auto", 4, lambda: "d41f0c2a9e1b")
    with pytest.raises(ValueError, match="must be a share number"):
        resolve_share("first", 4)


def reports_through_the_seals(path: Path, shares: int, seed: int) -> list[PointReport]:
    """The study's stages wired as the nodes are: ``shares`` transmitters (each its own sender),
    their messages interleaved at random, the channel's merger, the receiver."""
    study = Study.build(load_scenario(path), str(path))
    metrics = build_metrics(study.scenario.metrics, study.sources.of(study.points[0]).label_set)
    reports: list[PointReport] = []
    merger: Merger[Any] | None = Merger([t.index for t in study.trials()], shares) if shares > 1 else None
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
        "(vehicles.per_process); run 2 transmitter(s), shares 0-1 (compose: --scale vehicle=2)"
    ]
