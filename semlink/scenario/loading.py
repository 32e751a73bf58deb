"""Loading a scenario: a YAML file read safely (:mod:`semlink.scenario.yamlfile`), ``--set``
overrides applied, then validated (:mod:`semlink.scenario.schema`); and writing one back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from semlink.scenario.schema import Scenario, validate
from semlink.scenario.yamlfile import MAX_NESTING, MAX_NODES, MAX_SCENARIO_BYTES, parse_yaml

__all__ = ["MAX_NESTING", "MAX_NODES", "MAX_SCENARIO_BYTES", "dump_scenario", "load_scenario", "parse_yaml", "validate"]


def load_scenario(path: Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override and validate a scenario; every problem becomes one :class:`ScenarioError`
    line (:meth:`Scenario.from_yaml`)."""
    return Scenario.from_yaml(path, overrides)


def dump_scenario(scenario: Scenario, path: Path) -> None:
    """Write the resolved scenario (after overrides) as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False))
