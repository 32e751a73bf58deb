"""Where the nodes of a run bind and connect.

By default ``semlink run`` gives each run its own ``ipc://`` endpoints in a private folder
(mode 0700, removed after the run) and hands them to its children in ``$SEMLINK_ENDPOINTS``:
two runs on one machine never share a socket, and no other user can reach one. Fixed
addresses are used only where the scenario (``network.*``) or ``--set`` gives them
(multi-host nodes, docker compose); nodes started by hand with neither fall back to the
loopback ports of :data:`HAND_STARTED`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from semlink.scenario.schema import NetworkSpec, ScenarioError

ENDPOINTS_ENV = "SEMLINK_ENDPOINTS"
"""Where ``semlink run`` hands its children the endpoints it picked (a JSON object)."""


@dataclass(frozen=True)
class Endpoints:
    """The four addresses of a run (ZeroMQ endpoint strings)."""

    channel_bind: str
    channel_connect: str
    receiver_bind: str
    receiver_connect: str


HAND_STARTED = Endpoints(
    channel_bind="tcp://127.0.0.1:5601",
    channel_connect="tcp://127.0.0.1:5601",
    receiver_bind="tcp://127.0.0.1:5602",
    receiver_connect="tcp://127.0.0.1:5602",
)
"""Addresses of nodes started by hand that neither the scenario nor ``semlink run`` set."""


def given(network: NetworkSpec) -> dict[str, str]:
    """The addresses the scenario sets, each missing half of a pair taken from the other half
    (a wildcard bind host becomes loopback for the connecting side)."""
    out: dict[str, str] = {}
    for node in ("channel", "receiver"):
        bind, connect = getattr(network, f"{node}_bind"), getattr(network, f"{node}_connect")
        if bind is None and connect is None:
            continue
        out[f"{node}_bind"] = bind if bind is not None else connect
        out[f"{node}_connect"] = connect if connect is not None else loopback(bind)
    return out


def loopback(address: str) -> str:
    """``tcp://0.0.0.0:5601`` or ``tcp://*:5601`` -> ``tcp://127.0.0.1:5601``; others unchanged."""
    for wildcard in ("tcp://0.0.0.0:", "tcp://*:"):
        if address.startswith(wildcard):
            return "tcp://127.0.0.1:" + address[len(wildcard) :]
    return address


def node_endpoints(network: NetworkSpec) -> Endpoints:
    """A node's addresses: the scenario's, else those its ``semlink run`` parent picked, else
    :data:`HAND_STARTED`.

    :raises ScenarioError: if ``$SEMLINK_ENDPOINTS`` is set but is not the JSON object a run writes.
    """
    chosen = {**asdict(HAND_STARTED), **from_environment(), **given(network)}
    return Endpoints(**chosen)


def from_environment() -> dict[str, str]:
    """The endpoints in ``$SEMLINK_ENDPOINTS`` (empty when unset)."""
    text = os.environ.get(ENDPOINTS_ENV)
    if text is None:
        return {}
    names = {f.name for f in fields(Endpoints)}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not set(value) <= names or not all(isinstance(v, str) for v in value.values()):
        raise ScenarioError(f"{ENDPOINTS_ENV} must be a JSON object of {sorted(names)} strings; unset it")
    return value


@contextmanager
def private_endpoints(network: NetworkSpec) -> Iterator[dict[str, str]]:
    """For one run: ``ipc://`` endpoints in a fresh 0700 folder for every address the scenario
    leaves open, as the environment its children need (empty when the scenario sets all four).
    The folder goes when the run ends."""
    fixed = given(network)
    if len(fixed) == len(fields(Endpoints)):
        yield {}
        return
    folder = Path(tempfile.mkdtemp(prefix="semlink-"))  # mkdtemp makes it 0700
    try:
        chosen: dict[str, str] = {}
        for node in ("channel", "receiver"):
            address = f"ipc://{folder / node}"
            chosen.setdefault(f"{node}_bind", address)
            chosen.setdefault(f"{node}_connect", address)
        yield {ENDPOINTS_ENV: json.dumps({**chosen, **fixed})}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
