"""Which share of the vehicles a transmitter process sends (``vehicles.per_process``).

A scenario with ``vehicles: {per_process: K}`` spreads its vehicles over ``S`` transmitter
processes, ``K`` vehicles each (:meth:`semlink.scenario.vehicles.VehiclesSpec.shares`); the
process of share ``k`` sends vehicles ``k K`` to ``(k + 1) K - 1`` of every point. ``semlink run``
starts the ``S`` processes itself; started by hand, each takes ``--share k`` (or
``$SEMLINK_SHARE``); in docker compose, ``--share auto`` reads the replica's index from its
container's name (``<project>-vehicle-<n>``, found by a reverse lookup of its own address in the
compose network's DNS), so ``docker compose up --scale vehicle=S`` gives each replica its share.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable

SHARE_ENV = "SEMLINK_SHARE"
"""The share of a transmitter started by hand (``--share`` wins)."""
_REPLICA = re.compile(r"[-_](\d+)$")


def container_name() -> str:
    """This host's name as the network's DNS knows it (a compose replica's container name), else its hostname."""
    host = socket.gethostname()
    try:
        return socket.gethostbyaddr(socket.gethostbyname(host))[0]
    except OSError:
        return host


def replica_index(name: str) -> int | None:
    """A compose replica's 0-based index from its container name (``proj-vehicle-3`` or
    ``proj-vehicle-3.proj_default`` -> 2; compose v1's ``proj_vehicle_3`` too), None if it has none."""
    found = _REPLICA.search(name.split(".")[0])
    return None if found is None or int(found.group(1)) < 1 else int(found.group(1)) - 1


def resolve_share(given: str | None, shares: int, name_of: Callable[[], str] = container_name) -> int:
    """The share this transmitter sends: ``given`` (``--share``: a number or ``auto``), else
    ``$SEMLINK_SHARE``, else 0.

    :param shares: how many the scenario spreads its vehicles over.
    :param name_of: this host's container name (for ``auto``).
    :raises ValueError: one line naming the fix, for a share that is not a number, one beyond
        ``shares``, or ``auto`` on a host whose name has no replica index.
    """
    text = given if given is not None else os.environ.get(SHARE_ENV, "0")
    where = "--share" if given is not None else SHARE_ENV
    if text == "auto":
        name = name_of()
        share = replica_index(name)
        if share is None:
            raise ValueError(
                f"--share auto: this host's name {name!r} ends in no replica number (as compose's "
                "<project>-vehicle-<n> does); give --share K or set SEMLINK_SHARE"
            )
    elif text.isdigit():
        share = int(text)
    else:
        raise ValueError(f"{where} {text!r} must be a share number (0, 1, ...) or auto")
    if share >= shares:
        spread = "keeps every vehicle in one transmitter" if shares == 1 else f"spreads its vehicles over {shares}"
        raise ValueError(
            f"this transmitter is share {share}, but the scenario {spread} (vehicles.per_process); "
            f"run {shares} transmitter(s), shares 0-{shares - 1} (compose: --scale vehicle={shares})"
        )
    return share
