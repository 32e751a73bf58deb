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
import stat
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


ROLE_ADDRESSES = {
    "transmitter": ("channel_connect",),
    "channel": ("channel_bind", "receiver_connect"),
    "receiver": ("receiver_bind",),
}
"""The addresses each node binds or connects."""


def is_local(address: str) -> bool:
    """Whether ``address`` stays on this host: ``ipc://``, ``inproc://`` or a loopback TCP address."""
    scheme, _, rest = address.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    host = rest.rpartition(";")[2].rpartition(":")[0].strip("[]").lower()  # "src;host:port" -> host
    return host == "localhost" or host == "::1" or host.startswith("127.")


def exposed(ends: Endpoints, role: str) -> str | None:
    """The first address ``role`` binds or connects that leaves this host (None: all local)."""
    for name in ROLE_ADDRESSES[role]:
        address: str = getattr(ends, name)
        if not is_local(address):
            return address
    return None


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


FOLDER_PREFIX = "semlink-ipc-"
"""A run's private folder: ``$TMPDIR/semlink-ipc-<pid of semlink run>-<random>``."""


def remove_stale_folders(root: Path | None = None) -> list[Path]:
    """Remove the private folders that killed runs left behind in ``root`` (the temporary folder):
    this user's, named after a pid that no longer runs; returns them. A folder of a live process,
    another user's or a link is left alone."""
    root = Path(tempfile.gettempdir()) if root is None else root
    removed = []
    for path in root.glob(f"{FOLDER_PREFIX}*-*"):
        pid = path.name.removeprefix(FOLDER_PREFIX).split("-", 1)[0]
        try:
            info = path.lstat()
        except OSError:
            continue
        if not pid.isdigit() or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@contextmanager
def private_endpoints(network: NetworkSpec) -> Iterator[dict[str, str]]:
    """For one run: ``ipc://`` endpoints in a fresh 0700 folder for every address the scenario
    leaves open, as the environment its children need (empty when the scenario sets all four).
    The folder goes when the run ends; those of killed runs go at the next run's start
    (:func:`remove_stale_folders`)."""
    fixed = given(network)
    if len(fixed) == len(fields(Endpoints)):
        yield {}
        return
    remove_stale_folders()
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))  # mkdtemp makes it 0700
    try:
        chosen: dict[str, str] = {}
        for node in ("channel", "receiver"):
            address = f"ipc://{folder / node}"
            chosen.setdefault(f"{node}_bind", address)
            chosen.setdefault(f"{node}_connect", address)
        yield {ENDPOINTS_ENV: json.dumps({**chosen, **fixed})}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
