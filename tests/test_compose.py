"""docker-compose.yml and the Dockerfile agree with each other and with the CLI (no Docker needed)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from semlink.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
NODES = ("transmitter", "channel", "receiver")
PIPELINES = ("", "-lossy")
"""The default run's services and the ``lossy`` profile's (``receiver-lossy``, ...)."""
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
    for suffix in PIPELINES:
        for name in NODES:
            command = services[name + suffix]["command"]
            args = parser.parse_args([command[0], scenario_default(command), *command[2:]])
            assert args.command == name


@pytest.mark.parametrize("suffix", PIPELINES)
def test_each_pipeline_s_overrides_give_one_valid_scenario(suffix: str, services: dict[str, dict[str, Any]]) -> None:
    from semlink.scenario.loading import load_scenario

    channels = set()
    for name in NODES:
        command = services[name + suffix]["command"]
        overrides = [f"{k}={v}" for k, v in settings(command).items()]
        channels.add(json.dumps(load_scenario(ROOT / scenario_default(command), overrides).channel, sort_keys=True))
    assert len(channels) == 1  # the three nodes of a run agree on its channel (the points' keys depend on it)


@pytest.mark.parametrize("suffix", PIPELINES)
def test_addresses_meet(suffix: str, services: dict[str, dict[str, Any]]) -> None:
    transmitter = settings(services["transmitter" + suffix]["command"])
    channel = settings(services["channel" + suffix]["command"])
    receiver = settings(services["receiver" + suffix]["command"])
    bind_host, channel_port = host_port(channel["network.channel_bind"])
    assert bind_host == "0.0.0.0" and channel_port is not None
    assert host_port(transmitter["network.channel_connect"]) == ("channel" + suffix, channel_port)
    bind_host, receiver_port = host_port(receiver["network.receiver_bind"])
    assert bind_host == "0.0.0.0" and receiver_port is not None
    assert host_port(channel["network.receiver_connect"]) == ("receiver" + suffix, receiver_port)


@pytest.mark.parametrize("suffix", PIPELINES)
def test_each_node_starts_once_its_peer_is_healthy(suffix: str, services: dict[str, dict[str, Any]]) -> None:
    assert services["transmitter" + suffix]["depends_on"] == {"channel" + suffix: {"condition": "service_healthy"}}
    assert services["channel" + suffix]["depends_on"] == {"receiver" + suffix: {"condition": "service_healthy"}}
    for name in NODES:
        service = services[name + suffix]
        ready = service["environment"]["SEMLINK_READY_FILE"]
        assert service["healthcheck"]["test"] == ["CMD", "test", "-f", ready]


def test_nodes_write_the_ready_file_once_their_sockets_are_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from semlink.nodes.loops import READY_ENV, announce_ready

    ready = tmp_path / "ready"
    monkeypatch.delenv(READY_ENV, raising=False)
    announce_ready("channel")
    assert not ready.exists()
    monkeypatch.setenv(READY_ENV, str(ready))
    announce_ready("channel")
    assert ready.read_text().startswith("channel ")


def test_scenarios_and_data_are_mounted_read_only(services: dict[str, dict[str, Any]]) -> None:
    for suffix in PIPELINES:
        for name in NODES:
            service = services[name + suffix]
            assert "./scenarios:/app/scenarios:ro" in service["volumes"]
            assert "${SEMLINK_DATA:-./data}:/data:ro" in service["volumes"]
            assert service["environment"]["SEMLINK_CAMVID"] == "/data/camvid"


def test_one_scenario_variable_with_a_default_under_scenarios(services: dict[str, dict[str, Any]]) -> None:
    defaults = {scenario_default(services[name]["command"]) for name in NODES}
    assert defaults == {"scenarios/quickstart.yaml"}
    path = Path(defaults.pop())
    assert not path.is_absolute() and path.parts[0] == "scenarios" and path.suffix == ".yaml"


def test_default_scenario_file_exists() -> None:
    path = ROOT / "scenarios" / "quickstart.yaml"
    assert path.is_file(), f"docker-compose.yml's default scenario {path} does not exist"


@pytest.mark.parametrize("suffix", PIPELINES)
def test_receiver_writes_results_and_report_to_a_named_volume(suffix: str, services: dict[str, dict[str, Any]]) -> None:
    command = services["receiver" + suffix]["command"]
    assert command[command.index("--out") + 1] == "/results" and "--report" in command
    mounts = [entry.split(":")[:2] for entry in services["receiver" + suffix]["volumes"]]
    volumes = [volume for volume, target in mounts if target == "/results"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert len(volumes) == 1 and volumes[0] in compose["volumes"]
    assert services["receiver" + suffix].get("profiles", []) == ([] if not suffix else ["lossy"])


def test_dockerfile_entrypoint_and_torch() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11.7-slim-bookworm"  # pinned
    users = [line for line in instructions if line.startswith("USER ")]
    assert users == ["USER semlink"] and instructions.index(users[0]) > max(
        i for i, line in enumerate(instructions) if line.startswith("RUN ")
    )  # installs as root, runs as semlink
    entrypoints = [line.removeprefix("ENTRYPOINT").strip() for line in instructions if line.startswith("ENTRYPOINT")]
    assert [json.loads(e) for e in entrypoints] == [["semlink"]]
    runs = [line for line in instructions if line.startswith("RUN ")]
    torch = [line for line in runs if "torch==2.13.0" in line]
    assert torch and "${TORCH_INDEX}" in torch[0]
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in instructions
    assert any('pip install -c constraints.txt -e ".${EXTRAS}"' in line for line in runs[runs.index(torch[0]) :])
    assert 'ARG EXTRAS=""' in instructions


def test_the_ray_profile_runs_the_scenario_on_a_head_and_a_worker(services: dict[str, dict[str, Any]]) -> None:
    ray = {name: service for name, service in services.items() if "ray" in service.get("profiles", [])}
    assert set(ray) == {"ray-head", "ray-worker", "ray-driver"}
    assert {service["image"] for service in ray.values()} == {"semlink:ray"}
    assert [name for name, service in ray.items() if "build" in service] == ["ray-head"]
    assert ray["ray-head"]["build"]["args"]["EXTRAS"] == "[ray]"
    assert ray["ray-worker"]["command"][:2] == ["start", "--address=ray-head:6379"]
    assert "--head" in ray["ray-head"]["command"] and "--port=6379" in ray["ray-head"]["command"]
    driver = ray["ray-driver"]["command"]
    args = build_parser().parse_args([driver[0], scenario_default(driver), *driver[2:]])
    assert args.command == "run" and args.executor == "ray" and args.address == "ray-head:6379"
    assert settings(driver) == {"cache": "/cache"}
    assert all("cache:/cache" in service["volumes"] for service in ray.values())  # one cache for all
    assert ray["ray-worker"]["depends_on"] == {"ray-head": {"condition": "service_healthy"}}


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    """Offline half of `.ci/lock.py check` (which resolves with pip): each dependency of
    pyproject.toml is pinned in constraints.txt at a version its range admits."""
    import tomllib
    from packaging.requirements import Requirement

    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        from lock import TORCH, canonical, read_lock
    finally:
        sys.path.pop(0)
    pins = read_lock(ROOT / "constraints.txt")
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in map(Requirement, dependencies):
        name = canonical(requirement.name)
        assert name in pins, f"{name} is not pinned in constraints.txt: python .ci/lock.py write"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement}"
    assert pins["torch"] == TORCH.split("==")[1]  # the CPU build the Dockerfile installs first


VEHICLES = ("receiver-v2x", "channel-v2x", "vehicle")
"""The ``vehicles`` profile: a road of vehicles whose transmitter replicas each send a share."""


def test_the_vehicles_profile_scales_a_vehicle_service_that_takes_its_share_by_index(
    services: dict[str, dict[str, Any]],
) -> None:
    from semlink.scenario.loading import load_scenario

    parser = build_parser()
    vehicle = services["vehicle"]["command"]
    assert vehicle[0] == "transmitter" and vehicle[vehicle.index("--share") + 1] == "auto"
    assert "container_name" not in services["vehicle"] and "ports" not in services["vehicle"]  # scalable
    assert all(services[name]["profiles"] == ["vehicles"] for name in VEHICLES)
    shares = set()
    for name in VEHICLES:
        command = services[name]["command"]
        default = re.match(r"^\$\{SEMLINK_V2X_SCENARIO:-(?P<d>[^}]+)\}$", command[1])
        assert default, command[1]
        parser.parse_args([command[0], default["d"], *command[2:]])
        overrides = [f"{k}={v}".replace("${SEMLINK_PER_PROCESS:-8}", "8") for k, v in settings(command).items()]
        shares.add(load_scenario(ROOT / default["d"], overrides).vehicles.shares())  # type: ignore[union-attr]
    assert shares == {4}  # the three agree; the header's --scale vehicle=4 matches
    assert "--scale vehicle=4" in (ROOT / "docker-compose.yml").read_text()
    receiver, channel = settings(services["receiver-v2x"]["command"]), settings(services["channel-v2x"]["command"])
    assert host_port(channel["network.receiver_connect"]) == (
        "receiver-v2x",
        host_port(receiver["network.receiver_bind"])[1],
    )
    assert host_port(settings(vehicle)["network.channel_connect"]) == (
        "channel-v2x",
        host_port(channel["network.channel_bind"])[1],
    )
    assert services["vehicle"]["depends_on"] == {"channel-v2x": {"condition": "service_healthy"}}
