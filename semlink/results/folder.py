"""One writer per output folder, and one study per folder.

:func:`hold_folder` takes an advisory lock (``fcntl.flock`` on ``OUT/.lock``, which holds the
holder's pid, host and start time) for as long as a run writes into the folder: a second run into
the same folder is refused in one line naming the holder. The operating system releases the lock
when its holder dies, so the lock of a killed run is simply taken over (its file is rewritten); the
lock is re-entrant within one process (``semlink run`` holds it around the run and its report, and
:class:`~semlink.executors.runner.Run` takes it again inside). Locks are advisory: they keep out
semlink runs, not other programs, and a network file system may not honour them.

:func:`check_same_study` refuses a rerun into a folder whose rows were made with other settings
that are not axes (the frames and data, the seed and realisations, a single segmenter, the
metrics): its new rows would be averaged with the old ones in the tables and plots.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from semlink.scenario.schema import Scenario

LOCK_FILE = ".lock"
"""The lock file inside an output folder."""

SCENARIO_FILE = "scenario.yaml"
RESULTS_FILE = "results.csv"

_HELD: dict[Path, int] = {}
"""Folders this process holds the lock of -> how many times it took it (the lock is re-entrant)."""
_FILES: dict[Path, int] = {}
"""Folders this process holds -> the open descriptor carrying the lock."""


class FolderError(ValueError):
    """An output folder a run cannot write into: busy, not writable, or holding another study."""


@contextlib.contextmanager
def hold_folder(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock (creating the folder) for the duration of the ``with`` block.

    :raises FolderError: in one line, when another live process holds it, or when the folder
        cannot be made or written to (naming the folder and the fix).
    """
    key = out.absolute()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    descriptor = acquire(out)
    _HELD[key], _FILES[key] = 1, descriptor
    try:
        yield
    finally:
        del _HELD[key]
        os.close(_FILES.pop(key))  # closing the descriptor releases the lock; the file stays


def acquire(out: Path) -> int:
    """Lock ``out/.lock`` (without waiting), write this process's pid and host into it, and
    return the open descriptor that holds the lock.

    :raises FolderError: as :func:`hold_folder`.
    """
    path = out / LOCK_FILE
    try:
        if out.exists() and not out.is_dir():
            raise FolderError(f"output folder {out} is a file; give another --out")
        out.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise FolderError(
            f"cannot write into output folder {out} ({error.strerror or error}); give an --out you may write to"
        ) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        raise FolderError(
            f"output folder {out} is in use by another run ({describe_holder(path)}); "
            "wait for it to end or give another --out"
        ) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, (json.dumps(holder_record()) + "\n").encode())
    return descriptor


def holder_record() -> dict[str, Any]:
    """What the lock file says about its holder: pid, host and start time."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def describe_holder(path: Path) -> str:
    """The holder named in a lock file, in words (``pid 41 on host h since 2026-01-01 10:00:00``)."""
    try:
        record = json.loads(path.read_text())
        pid, host, since = int(record["pid"]), str(record["host"]), str(record["since"])
    except (OSError, ValueError, KeyError, TypeError):
        return "its holder did not say who it is"
    words = f"pid {pid} on host {host} since {since}"
    if host == socket.gethostname() and not alive(pid):
        words += "; it has exited, and a process it started still holds the lock"
    return words


def alive(pid: int) -> bool:
    """Whether a process of this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours
        return True
    return True


def fixed_settings(scenario: dict[str, Any]) -> dict[str, Any]:
    """The settings of a scenario (as dumped to ``scenario.yaml``) that are not axes yet shape every
    row: the data (its ``size`` unless that is an axis), seed, realisations, a single segmenter,
    and the metrics."""
    data = dict(scenario.get("data") or {})
    size = data.get("size")
    if isinstance(size, list) and size and isinstance(size[0], list):
        data.pop("size")
    out: dict[str, Any] = {f"data.{key}": value for key, value in data.items()}
    out |= {key: scenario.get(key) for key in ("seed", "repeats", "seeds", "metrics")}
    segmenter = scenario.get("segmenter")
    if not isinstance(segmenter, list):
        out["segmenter"] = segmenter
    return out


def check_same_study(out: Path, scenario: Scenario) -> None:
    """Refuse to add rows of ``scenario`` to a folder whose rows came from other non-axis settings
    (see the module docstring). A folder without rows, or whose ``scenario.yaml`` cannot be read,
    is not checked.

    :raises FolderError: one line naming the first setting that differs and the fix.
    """
    saved, results = out / SCENARIO_FILE, out / RESULTS_FILE
    try:
        if not results.is_file() or results.stat().st_size == 0:
            return
        before = yaml.safe_load(saved.read_text())
    except (OSError, yaml.YAMLError):
        return
    if not isinstance(before, dict):
        return
    old = fixed_settings(before)
    new = fixed_settings(scenario.model_dump(mode="json", by_alias=True))
    for name in dict.fromkeys([*new, *old]):
        if json.dumps(old.get(name), sort_keys=True) != json.dumps(new.get(name), sort_keys=True):
            raise FolderError(
                f"output folder {out} holds rows made with {name} {shown(old.get(name))}, this run has "
                f"{shown(new.get(name))}; their rows would mix in one table and plot: give a new --out "
                "(or delete that folder)"
            )


def shown(value: Any) -> str:
    """A setting's value, short, for a one-line message."""
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."
