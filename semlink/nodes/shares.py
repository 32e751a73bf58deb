"""Which share of the vehicles a transmitter process sends (``vehicles.per_process``).

A scenario with ``vehicles: {per_process: K}`` spreads its vehicles over ``S`` transmitter
processes, ``K`` vehicles each (:meth:`semlink.scenario.vehicles.VehiclesSpec.shares`); the
process of share ``k`` sends vehicles ``k K`` to ``(k + 1) K - 1`` of every point. ``semlink run``
starts the ``S`` processes itself; started by hand, each takes ``--share k`` (or
``$SEMLINK_SHARE``); in docker compose, ``--share auto`` reads the replica's index from its
container's name (``<project>-vehicle-<n>``), which it asks Docker's embedded DNS server
(``127.0.0.11``) for by a reverse (PTR) lookup of its own address, so ``docker compose up --scale
vehicle=S`` gives each replica its share. The system resolver is not asked: it reads the
container's ``/etc/hosts`` first, which names the container by its id.

The PTR query is written here (a 30-line DNS message over UDP) rather than with a DNS library:
it is the only lookup semlink makes, and the standard library has no way to send it to one server.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import struct
from collections.abc import Callable

SHARE_ENV = "SEMLINK_SHARE"
"""The share of a transmitter started by hand (``--share`` wins)."""
DOCKER_DNS = ("127.0.0.11", 53)
"""Docker's embedded DNS server, inside every container on a user-defined (compose) network."""
_REPLICA = re.compile(r"[-_](\d+)$")
_PTR, _IN = 12, 1


def ptr_query(address: str, ident: int) -> bytes:
    """A DNS query for the PTR record of IPv4 ``address`` (recursion desired)."""
    name = b"".join(bytes([len(part)]) + part.encode() for part in [*reversed(address.split(".")), "in-addr", "arpa"])
    return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + name + b"\x00" + struct.pack(">HH", _PTR, _IN)


def _name_at(message: bytes, offset: int, depth: int = 0) -> tuple[str, int]:
    """The domain name at ``offset`` of a DNS message (compression followed) and the offset after it."""
    labels: list[str] = []
    while True:
        if offset >= len(message) or depth > 16:
            raise ValueError("a truncated or looping name")
        length = message[offset]
        if length >= 0xC0:  # a pointer to a name earlier in the message
            pointer = struct.unpack_from(">H", message, offset)[0] & 0x3FFF
            rest, _ = _name_at(message, pointer, depth + 1)
            return ".".join([*labels, rest] if rest else labels), offset + 2
        offset += 1
        if length == 0:
            return ".".join(labels), offset
        labels.append(message[offset : offset + length].decode("ascii", "replace"))
        offset += length


def ptr_answer(message: bytes, ident: int) -> str | None:
    """The first PTR name in a DNS response to query ``ident``, None if it has none."""
    ident_got, flags, questions, answers = struct.unpack_from(">HHHH", message)
    if ident_got != ident or not flags & 0x8000 or flags & 0x000F:
        return None
    offset = 12
    for _ in range(questions):
        _, offset = _name_at(message, offset)
        offset += 4
    for _ in range(answers):
        _, offset = _name_at(message, offset)
        kind, _, _, length = struct.unpack_from(">HHIH", message, offset)
        offset += 10
        if kind == _PTR:
            return _name_at(message, offset)[0]
        offset += length
    return None


def reverse_name(address: str, server: tuple[str, int] = DOCKER_DNS, timeout_s: float = 2.0) -> str | None:
    """The name DNS server ``server`` gives ``address`` (a PTR lookup), None if it gives none."""
    ident = secrets.randbelow(1 << 16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.sendto(ptr_query(address, ident), server)
            reply, _ = sock.recvfrom(4096)
            return ptr_answer(reply, ident)
        except (OSError, ValueError, struct.error):
            return None


def container_name() -> str:
    """This container's name as Docker's DNS knows it, else this host's name."""
    host = socket.gethostname()
    try:
        address = socket.gethostbyname(host)
    except OSError:
        return host
    return reverse_name(address) or host


def replica_index(name: str) -> int | None:
    """A compose replica's 0-based index from its container name (``proj-vehicle-3`` or
    ``proj-vehicle-3.proj_default`` -> 2; compose v1's ``proj_vehicle_3`` too), None if it has none."""
    found = _REPLICA.search(name.split(".")[0])
    return None if found is None or int(found.group(1)) < 1 else int(found.group(1)) - 1


def resolve_share(given: str | None, shares: int, name_of: Callable[[], str] = container_name) -> int:
    """The share this transmitter sends: ``given`` (``--share``: a number or ``auto``), else
    ``$SEMLINK_SHARE``; 0 when the scenario does not spread its vehicles.

    :param shares: how many the scenario spreads its vehicles over.
    :param name_of: this host's container name (for ``auto``).
    :raises ValueError: one line naming the fix, for a share that is not a number, one beyond
        ``shares``, none given where there are several, or ``auto`` on a host whose name has no
        replica index.
    """
    text = given if given is not None else os.environ.get(SHARE_ENV)
    where = "--share" if given is not None else SHARE_ENV
    if text is None:
        if shares > 1:
            raise ValueError(
                f"the scenario spreads its vehicles over {shares} transmitters (vehicles.per_process): "
                f"give each its --share (0-{shares - 1}) or {SHARE_ENV}"
            )
        return 0
    if text == "auto":
        name = name_of()
        share = replica_index(name)
        if share is None:
            raise ValueError(
                f"--share auto: this host's name {name!r} ends in no replica number (as compose's "
                "<project>-vehicle-<n> does); give --share K or set SEMLINK_SHARE"
            )
    elif re.fullmatch(r"[0-9]{1,4}", text):
        share = int(text)
    else:
        raise ValueError(f"{where} {text!r} must be a share number (0, 1, ...) or auto")
    if share >= shares:
        if shares == 1:
            raise ValueError(
                f"this transmitter is share {share}, but the scenario keeps every vehicle in one "
                "transmitter (no vehicles.per_process): drop --share or give 0"
            )
        raise ValueError(
            f"this transmitter is share {share}, but the scenario spreads its vehicles over {shares} "
            f"(vehicles.per_process): run {shares} transmitters, shares 0-{shares - 1} "
            f"(compose: --scale vehicle={shares})"
        )
    return share
