"""semlink: a networked semantic-communication simulator.

The Python API (see :mod:`semlink.api`)::

    import semlink

    result = semlink.run(semlink.Scenario.from_yaml("scenarios/quickstart.yaml"), out="results/q")
    rows = result.rows  # or result.to_pandas()

Names are imported on first use, so ``import semlink`` stays light (no torch until needed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from semlink.api import RunResult, evaluate, run
    from semlink.scenario.schema import Scenario, ScenarioError

_EXPORTS = {
    "run": "semlink.api",
    "evaluate": "semlink.api",
    "RunResult": "semlink.api",
    "Scenario": "semlink.scenario.schema",
    "ScenarioError": "semlink.scenario.schema",
}

__all__ = ["RunResult", "Scenario", "ScenarioError", "__version__", "evaluate", "run"]


def __getattr__(name: str) -> Any:
    """The API's names, imported when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'semlink' has no attribute {name!r}")
