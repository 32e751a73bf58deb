"""Guards of hand-started and killed runs: a peer that never came, an end before the run began, a
run id nobody can guess beyond this host, and the private folders killed runs leave behind."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import zmq

from semlink.channel.node import ChannelStage
from semlink.nodes.endpoints import FOLDER_PREFIX, HAND_STARTED, Endpoints, exposed, is_local, remove_stale_folders
from semlink.nodes.liveness import PeerWatch, Waits
from semlink.nodes.loops import node_run_id
from semlink.nodes.transport import PeerError, StopFlag, wait_until_peer_leaves
from semlink.receiver.node import PointReport, ReceiverStage
from semlink.scenario.schema import Scenario, ScenarioError
from semlink.study.trials import RUN_ID_ENV, RUN_ID_FILE_ENV, given_run_id, run_id
from semlink.wire import RUN_IDS, End, PointEnd, encode_message, pack_parts
from tests.ports import free_port

RUN = RUN_IDS[0] + 5
BASE: dict[str, Any] = {"name": "s", "seed": 3, "codecs": [{"name": "jpeg"}], "channel": {"model": "bernoulli"}}


def test_a_sender_whose_peer_never_connected_gives_up_after_the_peer_timeout() -> None:
    """Everything 'sent' sits in the socket's own queue: waiting for the peer to leave must end
    after ``peer_timeout_s`` with the peer named, not after ``stall_timeout_s`` (600 s by default)
    as if the run had been delivered."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = context.socket(zmq.PUSH)
    watch = PeerWatch(sock, "the channel at nowhere")
    try:
        sock.connect(f"tcp://127.0.0.1:{free_port()}")  # nothing listens there
        sock.send(b"queued, never delivered", zmq.NOBLOCK)
        outcome: list[object] = []

        def wait() -> None:
            try:
                outcome.append(wait_until_peer_leaves(watch, StopFlag(), Waits(0.5, 3600)))
            except PeerError as error:
                outcome.append(error)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        waiter.join(timeout=60)  # a bound for the test only: the old code waited the stall timeout
        assert outcome and isinstance(outcome[0], PeerError), outcome
        assert "never showed up within 0.5 s" in str(outcome[0])
    finally:
        watch.close()
        sock.close(linger=0)
        context.term()


def test_an_end_before_the_run_began_ends_nothing_at_the_channel() -> None:
    channel = ChannelStage({}, RUN)
    forged = pack_parts([encode_message(End(RUN))])
    assert channel.relay_message([forged]) is None
    assert not channel.ended and not channel.heard_run  # nor does it make a stranger the trusted peer
    assert channel.counters["dropped:before-start"] == 1
    assert channel.point_dropped["dropped:before-start"] == 1  # flagged in the first row


def test_an_end_before_the_run_began_ends_nothing_at_the_receiver() -> None:
    reports: list[PointReport] = []
    receiver = ReceiverStage({}, [], reports.append, RUN)
    receiver.handle([encode_message(End(RUN))])
    receiver.handle([encode_message(PointEnd(RUN, 0, "k", 0, 0, 0, (), (), ()))])
    assert not receiver.finished and not receiver.heard_run
    assert receiver.counters["rejected:before-start"] == 2


def scenario(**network: Any) -> Scenario:
    return Scenario.model_validate({**BASE, "network": network})


def test_addresses_that_stay_on_this_host() -> None:
    local = ["ipc:///tmp/x/channel", "inproc://a", "tcp://127.0.0.1:5601", "tcp://localhost:1", "tcp://[::1]:2"]
    assert all(is_local(address) for address in local)
    beyond = ["tcp://0.0.0.0:5601", "tcp://*:5601", "tcp://channel:5601", "tcp://10.0.0.2:1", "tcp://eth0;10.0.0.1:3"]
    assert not any(is_local(address) for address in beyond)
    assert exposed(HAND_STARTED, "channel") is None
    compose = Endpoints("tcp://0.0.0.0:5601", "tcp://channel:5601", "tcp://0.0.0.0:5602", "tcp://receiver:5602")
    assert exposed(compose, "transmitter") == "tcp://channel:5601"
    assert exposed(compose, "receiver") == "tcp://0.0.0.0:5602"


def test_a_node_beyond_this_host_without_a_run_secret_refuses_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``SEMLINK_RUN_ID`` the id is derived from the scenario's name and seed: anyone can
    compute it, so a node reachable from other hosts with CURVE off must not run on it."""
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    monkeypatch.delenv(RUN_ID_FILE_ENV, raising=False)
    compose = Endpoints("tcp://0.0.0.0:5601", "tcp://channel:5601", "tcp://0.0.0.0:5602", "tcp://receiver:5602")
    for role in ("transmitter", "channel", "receiver"):
        with pytest.raises(ScenarioError, match=r"set network\.security: curve$") as refused:
            node_run_id(scenario(), compose, role)
        message = str(refused.value)
        assert "\n" not in message and RUN_ID_ENV in message and "beyond this host" in message
    # on loopback, or under CURVE (which authenticates every peer), the derived id still serves
    assert node_run_id(scenario(), HAND_STARTED, "channel") == run_id(scenario())
    curve = scenario(security="curve", keys="/nowhere")
    assert node_run_id(curve, compose, "channel") == run_id(curve)
    monkeypatch.setenv(RUN_ID_ENV, str(RUN))
    assert node_run_id(scenario(), compose, "receiver") == RUN


def test_a_run_secret_comes_from_the_environment_or_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    monkeypatch.delenv(RUN_ID_FILE_ENV, raising=False)
    assert given_run_id() is None
    secret = tmp_path / "run-id"
    secret.write_text(f"{RUN}\n")
    monkeypatch.setenv(RUN_ID_FILE_ENV, str(secret))
    assert given_run_id() == RUN
    secret.write_text("guess")
    with pytest.raises(ScenarioError, match="must be an integer in"):
        given_run_id()
    monkeypatch.setenv(RUN_ID_FILE_ENV, str(tmp_path / "missing"))
    with pytest.raises(ScenarioError, match="name a readable file"):
        given_run_id()
    monkeypatch.setenv(RUN_ID_ENV, str(RUN + 1))  # the variable wins over the file
    assert given_run_id() == RUN + 1


def test_a_killed_run_s_private_folder_goes_at_the_next_run_s_start(tmp_path: Path) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)  # a pid that ran and is gone
    stale = tmp_path / f"{FOLDER_PREFIX}{dead}-abc"
    live = tmp_path / f"{FOLDER_PREFIX}{os.getpid()}-def"
    other = tmp_path / "semlink-something-else"
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "channel").write_text("")
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / f"{FOLDER_PREFIX}{dead}-link").symlink_to(victim)  # a link is never followed nor removed
    assert remove_stale_folders(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists() and victim.exists()


def test_a_run_removes_stale_folders_before_it_makes_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import tempfile

    from semlink.nodes.endpoints import ENDPOINTS_ENV, private_endpoints
    from semlink.scenario.schema import NetworkSpec

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{FOLDER_PREFIX}{int(ended.stdout)}-xyz"
    stale.mkdir()
    with private_endpoints(NetworkSpec()) as environment:
        folder = Path(json.loads(environment[ENDPOINTS_ENV])["channel_bind"].removeprefix("ipc://")).parent
        assert folder.parent == tmp_path and folder.name.startswith(f"{FOLDER_PREFIX}{os.getpid()}-")
        assert not stale.exists()
    assert not folder.exists()


def test_compose_refuses_to_start_the_nodes_without_a_shared_run_secret() -> None:
    """The compose nodes bind 0.0.0.0 with CURVE off: each must get the one ``SEMLINK_RUN_ID``
    the user exports, and compose must refuse (``${VAR:?message}``) when it is not set."""
    import re

    import yaml

    services = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text())["services"]
    nodes = [name for name in services if name.split("-")[0] in ("transmitter", "channel", "receiver", "vehicle")]
    assert len(nodes) == 9  # the default run's three, the lossy profile's and the vehicles profile's
    for name in nodes:
        value = services[name]["environment"][RUN_ID_ENV]
        assert re.fullmatch(r"\$\{SEMLINK_RUN_ID:\?[^}]+\}", value), (name, value)
