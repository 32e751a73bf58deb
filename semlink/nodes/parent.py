"""A node's tie to the ``semlink run`` that started it: it dies with its parent, never orphaned."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

from semlink.study.trials import PARENT_ENV

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a node started by ``semlink run``: get SIGTERM when the parent dies, so no node is orphaned.

    Called from the child's own ``main`` (``preexec_fn`` is unsafe once threads run); exits at once
    if the parent is already gone. Linux only; a no-op elsewhere or outside ``semlink run``.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != parent:
        raise SystemExit(143)
