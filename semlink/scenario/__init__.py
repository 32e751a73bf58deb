"""Scenarios: the YAML schema and its limits (``schema``), loading and overrides (``loading``), the
checks before anything heavy loads (``precheck``) and the sweep of axes into points (``sweep``).

Nothing here imports torch: a scenario is read, checked and expanded before any network loads.
"""

from semlink.scenario.loading import dump_scenario, load_scenario, validate
from semlink.scenario.schema import Scenario, ScenarioError

__all__ = ["Scenario", "ScenarioError", "dump_scenario", "load_scenario", "validate"]
