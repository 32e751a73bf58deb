"""How many CPU threads each process of a run may use, so that no run oversubscribes the machine.

A run's budget is ``threads:`` in the scenario, else the cores this process may run on. The
processes that run at once share it: under ``semlink run`` with the ZeroMQ transport, the three
nodes (two and a transmitter per share where ``vehicles.per_process`` spreads the vehicles); in
process, one. Each node gets ``max(1, budget // processes)`` threads and the receiver,
which decodes and segments every frame, also what the division leaves over. Three nodes on two
cores thus get one thread each (the fewest three processes can have); sixteen cores give the
transmitter and the channel five each and the receiver six.

The count goes, for the children of ``semlink run``, to the BLAS and OpenMP libraries through
their environment variables, which they read when they load. Torch's networks run on the
scenario's ``compute_threads`` (default 1) in every process instead, whatever the share: a
network's output can change in its last bits with its thread count, and rows must not depend
on the executor or the budget (``tests/test_determinism.py``). Written here because each
library has its own switch and nothing sets them all from one number.
"""

from __future__ import annotations

import contextlib
import os

ROLES_AT_ONCE = ("transmitter", "channel", "receiver")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
THREADS_ENV = "SEMLINK_THREADS"
"""Set by ``semlink run`` in each child: the node's share of the budget."""


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    with contextlib.suppress(AttributeError, OSError):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run_budget(threads: int | None) -> int:
    """The run's thread budget: ``threads`` from the scenario, else :func:`machine_cores`."""
    return threads if threads is not None else machine_cores()


def node_threads(role: str, budget: int, processes: int = len(ROLES_AT_ONCE)) -> int:
    """Threads of ``role`` when ``processes`` processes share ``budget`` (see the module docstring).

    :param role: ``transmitter``, ``channel``, ``receiver``, or ``inproc`` (everything in one process).
    """
    if role == "inproc" or processes <= 1:
        return max(1, budget)
    share = max(1, budget // processes)
    if role == "receiver":
        return max(1, budget - share * (processes - 1))
    return share


def thread_environment(threads: int) -> dict[str, str]:
    """Environment variables that hold a child process's libraries to ``threads`` threads."""
    return {name: str(threads) for name in (*THREAD_VARIABLES, THREADS_ENV)}


def use_threads(threads: int) -> int:
    """Hold torch in this process to ``threads`` intra-op threads (the scenario's ``compute_threads``)
    and one inter-op thread; returns ``threads``."""
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # inter-op threads can be set once, before any parallel work
        torch.set_num_interop_threads(1)
    return threads


def node_share(role: str, threads: int | None) -> int:
    """A node's threads: what ``semlink run`` handed it, else its share of the scenario's budget."""
    handed = os.environ.get(THREADS_ENV, "")
    if handed.isdigit() and int(handed) > 0:
        return int(handed)
    return node_threads(role, run_budget(threads))
