"""The image's lock file, ``constraints.txt``: every package the Docker image installs, pinned.

    python .ci/lock.py check   # CI: the lock still resolves with pyproject.toml and pins all of it
    python .ci/lock.py write   # after changing a dependency: resolve again and rewrite the lock

Both ask pip to resolve the image's install (``torch==2.13.0`` and ``-e .[ray]``: the Ray image's,
of which the default image's is a part) from a clean slate
(``--dry-run --ignore-installed``, nothing is installed). ``check`` resolves under the lock and
fails, naming the packages, when pyproject.toml asks for something the lock does not pin (a new
dependency), for a version outside a pin, or when a pin is no longer needed. pip does the
resolving; this script only compares names and versions.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
TORCH = "torch==2.13.0"
"""The CPU build the image installs first (from its own index)."""
HEADER = """\
# The Docker image's lock: every package `pip install -e .[ray]` pulls in, pinned (Linux x86_64, Python 3.11).
# The Dockerfile installs with `-c constraints.txt`; `.ci/run` checks it with `python .ci/lock.py check`.
# Regenerate after changing a dependency in pyproject.toml: python .ci/lock.py write
"""


def canonical(name: str) -> str:
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def public(version: str) -> str:
    """A version without its local label (``2.13.0+cpu`` -> ``2.13.0``): the CPU index and this
    machine's wheel of torch carry different labels of one release."""
    return version.split("+", 1)[0]


def resolve(constraints: Path | None) -> dict[str, str]:
    """``{name: version}`` of what pip would install for the image (under ``constraints`` if given).

    :raises SystemExit: with pip's own message when it cannot resolve.
    """
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        command += ["--report", str(report), TORCH, "-e", f"{ROOT}[ray]"]
        if constraints is not None:
            command += ["-c", str(constraints)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            errors = [line for line in done.stderr.splitlines() if "ERROR" in line] or done.stderr.splitlines()[-3:]
            raise SystemExit(f"lock: pip cannot resolve the image's packages under {LOCK.name}: {' '.join(errors)}")
        installed = json.loads(report.read_text())["install"]
    return {
        canonical(item["metadata"]["name"]): public(item["metadata"]["version"])
        for item in installed
        if canonical(item["metadata"]["name"]) != "semlink"
    }


def read_lock(path: Path) -> dict[str, str]:
    """``{name: version}`` of the ``name==version`` lines of a lock file."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            name, _, version = text.partition("==")
            pins[canonical(name)] = version.strip()
    return pins


def drift(resolved: dict[str, str], pins: dict[str, str]) -> list[str]:
    """What differs between a resolution under the lock and the lock itself, one line each."""
    problems = [f"{name} is needed but not pinned" for name in sorted(set(resolved) - set(pins))]
    problems += [f"{name}=={pins[name]} is pinned but no longer needed" for name in sorted(set(pins) - set(resolved))]
    problems += [
        f"{name} resolves to {resolved[name]}, the lock pins {pins[name]}"
        for name in sorted(set(resolved) & set(pins))
        if resolved[name] != pins[name]
    ]
    return problems


def main(argv: list[str]) -> int:
    """``check`` or ``write``; returns the exit code."""
    if argv not in (["check"], ["write"]):
        print("usage: python .ci/lock.py check|write", file=sys.stderr)
        return 2
    if argv == ["write"]:
        resolved = resolve(None)
        LOCK.write_text(HEADER + "".join(f"{name}=={resolved[name]}\n" for name in sorted(resolved)))
        print(f"lock: {len(resolved)} packages pinned in {LOCK}")
        return 0
    if not LOCK.is_file():
        print(f"lock: {LOCK} is missing; write it with: python .ci/lock.py write", file=sys.stderr)
        return 1
    problems = drift(resolve(LOCK), read_lock(LOCK))
    if problems:
        print(f"lock: {LOCK.name} has drifted from pyproject.toml: {'; '.join(problems)}", file=sys.stderr)
        print("lock: rewrite it with: python .ci/lock.py write", file=sys.stderr)
        return 1
    print(f"lock: {LOCK.name} pins all {len(read_lock(LOCK))} packages of the image")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
