"""Where nodes bind and connect: the scenario's addresses, a run's private ones, or the hand-started ports."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from semlink.nodes.endpoints import ENDPOINTS_ENV, HAND_STARTED, node_endpoints, private_endpoints
from semlink.scenario.schema import NetworkSpec, ScenarioError


def test_nodes_started_by_hand_use_the_loopback_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENDPOINTS_ENV, raising=False)
    assert node_endpoints(NetworkSpec()) == HAND_STARTED


def test_a_run_gives_private_ipc_endpoints_and_removes_their_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    with private_endpoints(NetworkSpec()) as environment:
        chosen = json.loads(environment[ENDPOINTS_ENV])
        folder = Path(chosen["channel_bind"].removeprefix("ipc://")).parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert chosen["channel_bind"] == chosen["channel_connect"] != chosen["receiver_bind"]
        monkeypatch.setenv(ENDPOINTS_ENV, environment[ENDPOINTS_ENV])
        assert node_endpoints(NetworkSpec()).receiver_connect == chosen["receiver_bind"]
    assert not folder.exists()


def test_two_runs_never_share_an_endpoint() -> None:
    with private_endpoints(NetworkSpec()) as first, private_endpoints(NetworkSpec()) as second:
        assert set(json.loads(first[ENDPOINTS_ENV]).values()).isdisjoint(json.loads(second[ENDPOINTS_ENV]).values())


def test_the_scenario_s_addresses_win_and_a_pair_completes_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    network = NetworkSpec(channel_bind="tcp://0.0.0.0:7001", receiver_connect="tcp://rx:7002")
    monkeypatch.delenv(ENDPOINTS_ENV, raising=False)
    with private_endpoints(network) as environment:
        assert environment == {}  # both pairs complete: nothing left to pick
    ends = node_endpoints(network)
    assert (ends.channel_bind, ends.channel_connect) == ("tcp://0.0.0.0:7001", "tcp://127.0.0.1:7001")
    assert (ends.receiver_bind, ends.receiver_connect) == ("tcp://rx:7002", "tcp://rx:7002")


def test_a_scenario_with_every_address_needs_no_private_folder() -> None:
    network = NetworkSpec(**{name: "tcp://127.0.0.1:7003" for name in HAND_STARTED.__dataclass_fields__})
    with private_endpoints(network) as environment:
        assert environment == {}


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"channel_bind": 5}', '{"elsewhere": "tcp://x:1"}'])
def test_a_broken_endpoints_variable_is_one_line(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENDPOINTS_ENV, text)
    with pytest.raises(ScenarioError, match=f"{ENDPOINTS_ENV} must be a JSON object"):
        node_endpoints(NetworkSpec())


def test_sockets_use_tcp_keepalives_and_no_zmtp_heartbeats() -> None:
    """ZMTP heartbeats drop a healthy connection whose reader is busy with a full queue (and lose
    what it held: see semlink.nodes.liveness); kernel keepalives do not."""
    import zmq

    from semlink.nodes.transport import make_socket

    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        for kind in (zmq.PUSH, zmq.PULL):
            sock = make_socket(context, kind, 10, 0)
            assert sock.getsockopt(zmq.HEARTBEAT_IVL) == 0 and sock.getsockopt(zmq.TCP_KEEPALIVE) == 1
            sock.close()
    finally:
        context.term()


@pytest.mark.parametrize("trusted", [False, True])
def test_a_closed_connection_means_gone_only_once_the_peer_is_trusted(trusted: bool) -> None:
    """A bound socket's watch ignores a stranger who connected and left until :meth:`PeerWatch.trust`."""
    import socket
    import time

    import zmq

    from semlink.nodes.liveness import GONE_AFTER_S, PeerWatch, Waits
    from semlink.nodes.transport import make_socket

    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = make_socket(context, zmq.PULL, 10, 0)
    watch = PeerWatch(sock, "the peer", trusted=False)
    try:
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        if trusted:
            watch.trust()
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        deadline = time.monotonic() + 10  # the watch's thread sees the connection come and go
        while watch.connected_since == watch.started and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2 * GONE_AFTER_S + 0.5)
        assert watch.ever_connected and not watch.connected
        assert watch.gone is trusted
        problem = watch.problem(watch.started, Waits(peer_timeout_s=0.1, stall_timeout_s=60), "has sent nothing")
        expected = "went away" if trusted else "a connection came and went without a message of this run"
        assert problem is not None and expected in problem
    finally:
        watch.close()
        sock.close(linger=0)
        context.term()
