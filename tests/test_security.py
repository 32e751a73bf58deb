"""CURVE: only holders of the run's client key get a message through; keys are made once and never overwritten."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zmq

from semlink.nodes.security import Curve, KeyFileError, generate_keys
from semlink.scenario.precheck import precheck
from semlink.scenario.schema import Scenario, ScenarioError

pytestmark = pytest.mark.net


def drain(sock: zmq.Socket[bytes], seconds: float) -> list[bytes]:
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if sock.poll(50, zmq.POLLIN):
            got.append(sock.recv())
    return got


def client(context: zmq.Context[zmq.Socket[bytes]], address: str, setup: object = None) -> zmq.Socket[bytes]:
    sock = context.socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 0)
    if isinstance(setup, Curve):
        setup.client(sock)
    sock.connect(address)
    return sock


def test_only_a_client_with_the_allowed_key_gets_through(tmp_path: Path) -> None:
    keys, stranger_keys = tmp_path / "keys", tmp_path / "stranger"
    generate_keys(keys)
    generate_keys(stranger_keys)  # a well-formed pair the run does not allow
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    server_side, ours, theirs = Curve(context, keys), Curve(context, keys), Curve(context, stranger_keys)
    server = context.socket(zmq.PULL)
    server.setsockopt(zmq.LINGER, 0)
    clients: list[zmq.Socket[bytes]] = []
    try:
        server_side.server(server)
        port = server.bind_to_random_port("tcp://127.0.0.1")
        address = f"tcp://127.0.0.1:{port}"
        clients = [client(context, address), client(context, address, theirs), client(context, address, ours)]
        for sock, text in zip(clients, (b"plain", b"stranger", b"legit"), strict=True):
            # a loaded machine may take seconds over the CURVE handshake: wait up to 10 s for it
            sock.send(text, zmq.NOBLOCK) if sock.poll(10_000, zmq.POLLOUT) else None
        got = drain_until(server, b"legit", 10.0)
        got += drain(server, 1.0)  # anything the refused clients might still get through
        assert got == [b"legit"]
    finally:
        for sock in clients:
            sock.close()
        server.close()
        server_side.close()
        context.term()


def drain_until(sock: zmq.Socket[bytes], wanted: bytes, seconds: float) -> list[bytes]:
    """Messages received until ``wanted`` arrives or ``seconds`` pass."""
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline and wanted not in got:
        if sock.poll(50, zmq.POLLIN):
            got.append(sock.recv())
    return got


def test_keys_are_never_overwritten_and_a_missing_key_names_the_fix(tmp_path: Path) -> None:
    written = generate_keys(tmp_path / "k")
    assert {p.name for p in written} == {"server.key", "server.key_secret", "client.key", "client.key_secret"}
    assert (tmp_path / "k" / "client.key_secret").stat().st_mode & 0o077 == 0
    with pytest.raises(KeyFileError, match="already holds keys"):
        generate_keys(tmp_path / "k")
    (tmp_path / "k" / "server.key_secret").unlink()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = context.socket(zmq.PULL)
    try:
        with pytest.raises(KeyFileError, match=r"server.key_secret is missing; make keys with `semlink keys generate"):
            Curve(context, tmp_path / "k").server(sock)
    finally:
        sock.close(linger=0)
        context.term()


def test_precheck_refuses_curve_without_a_key_folder(tmp_path: Path) -> None:
    base = {"name": "s", "codecs": [{"name": "jpeg"}], "channel": {"model": "bernoulli"}}
    missing = Scenario.model_validate({**base, "network": {"security": "curve", "keys": str(tmp_path / "none")}})
    with pytest.raises(ScenarioError, match="is not a folder; make keys with `semlink keys generate"):
        precheck(missing, "s.yaml")
    unset = Scenario.model_validate({**base, "network": {"security": "curve"}})
    with pytest.raises(ScenarioError, match="names no key folder"):
        precheck(unset, "s.yaml")


def test_key_folders_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """With umask 000 ``authorized/`` became world-writable: anyone on the host could let a client in."""
    import os
    import stat

    previous = os.umask(0)
    try:
        written = generate_keys(tmp_path / "keys")
    finally:
        os.umask(previous)
    for folder in (tmp_path / "keys", tmp_path / "keys" / "authorized"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert not mode & 0o022, f"{path} is writable by others: {oct(mode)}"
        if path.name.endswith("_secret"):
            assert mode == 0o600, path
