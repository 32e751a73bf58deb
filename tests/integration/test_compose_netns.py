"""docker-compose.yml's three services run as plain processes, each in its own network namespace
(``ip netns``, as root), reaching each other by the compose file's service names, which the
namespaces' ``/etc/netns/NAME/hosts`` map to their veth addresses: no Docker engine needed.

The nodes use the compose file's own ports (5601, 5602): inside private namespaces nothing else
can hold them, and nothing outside can reach them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from semlink.wire.packets import new_run_id

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("receiver", "channel", "transmitter")  # compose's depends_on order: each waits for the one before
SMALL = ("data.frames=2", "codecs=[{name: jpeg, quality: [20, 60]}]")
"""Overrides given to all three nodes alike: the default scenario, made short for the suite."""
LINKS = {("transmitter", "channel"): "10.213.1", ("channel", "receiver"): "10.213.2"}
"""Point-to-point links between the namespaces, as /24 subnets: the transmitter is .1 and the channel
.2 on the first; the channel .1 and the receiver .2 on the second."""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def namespaces() -> Iterator[dict[str, str]]:
    """A namespace per service, linked as the compose network would, with its hosts file; removed after."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2's `ip`")
    tag = f"sl{os.getpid() % 100000}"
    names = {role: f"{tag}-{role[:2]}" for role in ROLES}
    made: list[str] = []
    try:
        for role, name in names.items():
            try:
                ip("netns", "add", name)
            except subprocess.CalledProcessError as error:
                pytest.skip(f"`ip netns add` is not allowed here: {error.stderr.strip()}")
            made.append(name)
            ip("-n", name, "link", "set", "lo", "up")
            hosts = Path("/etc/netns") / name / "hosts"
            hosts.parent.mkdir(parents=True, exist_ok=True)
            hosts.write_text(f"127.0.0.1 localhost\n{host_lines(role)}")
        for number, ((left, right), subnet) in enumerate(LINKS.items()):
            a, b = f"{tag}v{number}a", f"{tag}v{number}b"
            ip("link", "add", a, "type", "veth", "peer", "name", b)
            for end, role, host in ((a, left, 1), (b, right, 2)):
                ip("link", "set", end, "netns", names[role])
                ip("-n", names[role], "addr", "add", f"{subnet}.{host}/24", "dev", end)
                ip("-n", names[role], "link", "set", end, "up")
        yield names
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
            shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)


def host_lines(role: str) -> str:
    """``/etc/hosts`` lines naming the services ``role`` reaches (compose's DNS, by hand)."""
    lines = []
    for (left, right), subnet in LINKS.items():
        if role == left:
            lines.append(f"{subnet}.2 {right}\n")
        elif role == right:
            lines.append(f"{subnet}.1 {left}\n")
    return "".join(lines)


def service_command(service: dict[str, Any], results: Path) -> list[str]:
    """A service's command with the default scenario, the results volume at ``results`` and the
    suite's short overrides."""
    command = []
    for word in service["command"]:
        if word.startswith("${SEMLINK_SCENARIO:-"):
            word = word.removeprefix("${SEMLINK_SCENARIO:-").removesuffix("}")
        command.append(str(results) if word == "/results" else word)
    for setting in SMALL:
        command += ["--set", setting]
    return command


def wait_ready(ready: Path, process: subprocess.Popen[str], timeout: float = 90.0) -> None:
    """What the healthcheck does: wait for the node's ready file (or fail if the node died)."""
    deadline = time.monotonic() + timeout
    while not ready.exists():
        assert process.poll() is None, f"{ready.name} exited {process.returncode} before it was ready"
        assert time.monotonic() < deadline, f"{ready.name} not ready after {timeout} s"
        time.sleep(0.2)


@pytest.mark.net
def test_the_compose_services_run_in_separate_namespaces_and_match_a_local_run(
    namespaces: dict[str, str], tmp_path: Path
) -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    results = tmp_path / "results"
    processes: dict[str, subprocess.Popen[str]] = {}
    run_id = str(new_run_id())  # what `SEMLINK_RUN_ID=... docker compose up` hands every service
    try:
        for role in ROLES:
            ready = tmp_path / role
            given = {**services[role]["environment"], "SEMLINK_RUN_ID": run_id}
            environment = {**os.environ, **given, "SEMLINK_READY_FILE": str(ready)}
            command = [sys.executable, "-m", "semlink.cli", *service_command(services[role], results)]
            processes[role] = subprocess.Popen(
                ["ip", "netns", "exec", namespaces[role], *command],
                cwd=ROOT,
                env=environment,
                stdout=(tmp_path / f"{role}.out").open("w"),
                stderr=subprocess.STDOUT,
                text=True,
            )
            wait_ready(ready, processes[role])
        for role in reversed(ROLES):
            assert processes[role].wait(timeout=240) == 0, (tmp_path / f"{role}.out").read_text()[-2000:]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=20)
    assert (results / "report.md").is_file() and (results / "report.html").is_file()
    local = tmp_path / "local"
    overrides = [word for setting in SMALL for word in ("--set", setting)]
    command = ["run", "scenarios/quickstart.yaml", *overrides, "--transport", "inproc", "--out", str(local), "-q"]
    done = subprocess.run(
        [sys.executable, "-m", "semlink.cli", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert (results / "results.csv").read_text() == (local / "results.csv").read_text()
