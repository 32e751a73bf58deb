"""Loopback ports for tests that start nodes on TCP: each picked free by the kernel at the moment."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port free now (the kernel's pick for a bind to port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
