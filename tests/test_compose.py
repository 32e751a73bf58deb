"""docker-compose.yml and the Dockerfile agree with each other and with the CLI (no Docker needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from semlink.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
NODES = ("transmitter", "channel", "receiver")
SCENARIO_VARIABLE = re.compile(r"^\$\{SEMLINK_SCENARIO:-(?P<default>[^}]+)\}$")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """The services of docker-compose.yml."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"]


def settings(command: list[str]) -> dict[str, str]:
    """The ``--set key=value`` pairs of a service command."""
    pairs = [command[i + 1] for i, word in enumerate(command) if word == "--set"]
    return dict(pair.split("=", 1) for pair in pairs)


def host_port(address: str) -> tuple[str | None, int | None]:
    """``tcp://host:port`` -> ``(host, port)``."""
    parts = urlsplit(address)
    assert parts.scheme == "tcp", address
    return parts.hostname, parts.port


def scenario_default(command: list[str]) -> str:
    """The default scenario path of the ``${SEMLINK_SCENARIO:-...}`` argument after the subcommand."""
    match = SCENARIO_VARIABLE.match(command[1])
    assert match, f"second argument {command[1]!r} is not ${{SEMLINK_SCENARIO:-...}}"
    return match["default"]


def test_three_services_from_one_image_built_once(services: dict[str, dict[str, Any]]) -> None:
    assert set(NODES) <= set(services)
    assert {services[name]["image"] for name in NODES} == {"semlink:latest"}
    assert [name for name in NODES if "build" in services[name]] == ["receiver"]
    assert all(services[name]["restart"] == "no" for name in NODES)


def test_commands_start_with_their_subcommand(services: dict[str, dict[str, Any]]) -> None:
    assert [services[name]["command"][0] for name in NODES] == list(NODES)


def test_commands_parse_with_the_semlink_cli(services: dict[str, dict[str, Any]]) -> None:
    parser = build_parser()
    assert parser._subparsers is not None
    choices = parser._subparsers._group_actions[0].choices
    assert isinstance(choices, dict)
    assert set(NODES) <= set(choices)
    for name in NODES:
        command = services[name]["command"]
        args = parser.parse_args([command[0], scenario_default(command), *command[2:]])
        assert args.command == name


def test_addresses_meet(services: dict[str, dict[str, Any]]) -> None:
    transmitter = settings(services["transmitter"]["command"])
    channel = settings(services["channel"]["command"])
    receiver = settings(services["receiver"]["command"])
    bind_host, channel_port = host_port(channel["network.channel_bind"])
    assert bind_host == "0.0.0.0" and channel_port is not None
    assert host_port(transmitter["network.channel_connect"]) == ("channel", channel_port)
    bind_host, receiver_port = host_port(receiver["network.receiver_bind"])
    assert bind_host == "0.0.0.0" and receiver_port is not None
    assert host_port(channel["network.receiver_connect"]) == ("receiver", receiver_port)


def test_transmitter_starts_last(services: dict[str, dict[str, Any]]) -> None:
    assert {"receiver", "channel"} <= set(services["transmitter"]["depends_on"])
    assert "receiver" in services["channel"]["depends_on"]


def test_one_scenario_variable_with_a_default_under_scenarios(services: dict[str, dict[str, Any]]) -> None:
    defaults = {scenario_default(services[name]["command"]) for name in NODES}
    assert defaults == {"scenarios/quickstart.yaml"}
    path = Path(defaults.pop())
    assert not path.is_absolute() and path.parts[0] == "scenarios" and path.suffix == ".yaml"


def test_default_scenario_file_exists() -> None:
    path = ROOT / "scenarios" / "quickstart.yaml"
    assert path.is_file(), f"docker-compose.yml's default scenario {path} does not exist"


def test_receiver_writes_to_a_named_volume(services: dict[str, dict[str, Any]]) -> None:
    command = services["receiver"]["command"]
    assert command[command.index("--out") + 1] == "/results"
    volume, target = services["receiver"]["volumes"][0].split(":")[:2]
    assert target == "/results"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert volume in compose["volumes"]


def test_dockerfile_entrypoint_and_torch() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    entrypoints = [line.removeprefix("ENTRYPOINT").strip() for line in instructions if line.startswith("ENTRYPOINT")]
    assert [json.loads(e) for e in entrypoints] == [["semlink"]]
    runs = [line for line in instructions if line.startswith("RUN ")]
    torch = [line for line in runs if "torch==2.13.0" in line]
    assert torch and "${TORCH_INDEX}" in torch[0]
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in instructions
    assert any("pip install -e ." in line for line in runs[runs.index(torch[0]) :])
