"""A node's tie to the ``semlink run`` that started it: it dies with its parent, never orphaned.

Two ways, as either alone can miss: the kernel sends SIGTERM when the parent dies
(``PR_SET_PDEATHSIG``, Linux), which stops a node cleanly at its next message; and a watchdog
thread polls the parent every :data:`POLL_S` s, sends the same SIGTERM where the kernel did not
(elsewhere than Linux), and SIGKILLs the node if it is still there :data:`GRACE_S` s later: a node
busy in a long call (a batch of frames through a network) would otherwise not see its stop flag
for as long as the call takes. Node processes call :func:`die_with_parent` first thing, before
their heavy imports (seconds), so a parent that dies meanwhile is not missed either.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time

from semlink.study.trials import PARENT_ENV

PR_SET_PDEATHSIG = 1
POLL_S = 0.2
"""How often the watchdog looks at the parent."""
GRACE_S = 2.0
"""How long a node whose parent died has to stop cleanly before it is killed."""


def die_with_parent() -> None:
    """In a node started by ``semlink run``: end when the parent dies, so no node is orphaned.

    Called from the child's own ``main`` (``preexec_fn`` is unsafe once threads run); exits at once
    if the parent is already gone. A no-op outside ``semlink run``.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != parent:
        raise SystemExit(143)
    threading.Thread(target=watch_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()


def watch_parent(parent: int, poll_s: float = POLL_S, grace_s: float = GRACE_S) -> None:
    """Wait until ``parent`` is no longer this process's parent, then SIGTERM this process and, if
    it is still alive ``grace_s`` later, SIGKILL it (the body of the watchdog thread)."""
    while os.getppid() == parent:
        time.sleep(poll_s)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace_s)
    os.kill(os.getpid(), signal.SIGKILL)
