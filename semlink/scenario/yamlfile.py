"""Scenario files as YAML: read safely within limits (size, nesting, aliases, duplicate keys),
and ``--set key.sub=value`` overrides applied. Knows nothing of the schema
(:mod:`semlink.scenario.schema` validates what this returns).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from semlink.errors import ScenarioError, did_you_mean


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats, so ``6e6`` and ``1e-5`` are numbers, not
    strings, and a key given twice in one mapping refused (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """The mapping of ``node``, refusing a key that appears twice in it."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in seen:
                raise ScenarioError(f"line {line}: key {key!r} is given twice (first on line {seen[key]}); keep one")
            if isinstance(key, str):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    list("-+0123456789."),
)


MAX_SCENARIO_BYTES = 1_000_000


"""Largest scenario file read (the shipped ones are under 3 kB)."""


MAX_NESTING = 32


"""Deepest nesting of mappings and lists in a scenario (the schema needs 5)."""


MAX_NODES = 100_000


"""Most values a scenario may hold once its YAML aliases are expanded."""


def parse_yaml(text: str) -> Any:
    """Parse YAML text with :class:`YamlLoader`, refusing nesting deeper than :data:`MAX_NESTING`
    (checked on the event stream, before anything recursive runs) and more than :data:`MAX_NODES`
    values once aliases are expanded (``&a`` / ``*a`` bombs).

    :raises ScenarioError: for too deep or too large a document. :raises yaml.YAMLError: for bad YAML.
    """
    depth = 0
    for event in yaml.parse(text, Loader=YamlLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                raise ScenarioError(f"line {line}: nested more than {MAX_NESTING} deep; a scenario needs a few levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    value = yaml.load(text, Loader=YamlLoader)
    if expanded_size(value, {}) > MAX_NODES:
        raise ScenarioError(f"more than {MAX_NODES} values once its aliases are expanded; write it out plainly")
    return value


def expanded_size(value: Any, seen: dict[int, int]) -> int:
    """Values in ``value`` counted as if every alias were copied out (shared nodes counted once each
    time they are used, computed once each)."""
    if not isinstance(value, dict | list):
        return 1
    if id(value) not in seen:
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        seen[id(value)] = 1 + sum(expanded_size(child, seen) for child in children)
    return seen[id(value)]


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML; list items by number)."""
    for override in overrides:
        path, sep, text = override.partition("=")
        if not sep or not path:
            key, colon, rest = (part.strip() for part in override.partition(":"))
            hint = f" (did you mean {key}={rest}?)" if colon and key and rest else ""
            raise ScenarioError(f"--set {override!r} must look like key.sub=value{hint}")
        try:
            value = parse_yaml(text) if text else None
        except yaml.YAMLError:
            raise ScenarioError(f"--set {override!r}: the value is not valid YAML") from None
        except ScenarioError as error:
            raise ScenarioError(f"--set {override[:60]!r}: {error}") from None
        set_path(raw, path.split("."), value, override)
    return raw


def set_path(node: Any, keys: list[str], value: Any, override: str) -> None:
    """Set ``node[k0][k1]... = value``, creating dicts on the way."""
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(f"--set {override!r}: {key!r} is not an index of a {len(node)}-item list")
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise ScenarioError(f"--set {override!r}: {'.'.join(keys[:depth])} is not a mapping")


def read_raw(path: Path) -> dict[str, Any]:
    """A scenario file's fields as parsed YAML, within the limits above; every problem (missing,
    unreadable, too large, not YAML, not a mapping) one :class:`ScenarioError` line naming the file."""
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(
                f"scenario {path} is {path.stat().st_size:,} bytes, above the {MAX_SCENARIO_BYTES:,} a scenario may be"
            )
        raw = parse_yaml(path.read_text())
    except ScenarioError as error:
        raise ScenarioError(str(error) if str(error).startswith("scenario ") else f"scenario {path}: {error}") from None
    except FileNotFoundError:
        raise ScenarioError(
            f"scenario {path} does not exist{closest_scenario(path)}; see scenarios/ for examples"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"scenario {path} cannot be read: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"scenario {path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"scenario {path}: the top level must be a mapping of fields")
    return raw


SHIPPED_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
"""The scenarios shipped beside the package (a checkout or an editable install)."""


def closest_scenario(path: Path) -> str:
    """`` (did you mean 'X'?)`` for the existing scenario file closest to a missing ``path``: among
    the YAML files of its folder, else (a bare name such as ``quickstart``) of the shipped ones."""
    folder = path.parent if path.parent.is_dir() and str(path.parent) not in ("", ".") else None
    candidates = sorted(folder.glob("*.y*ml")) if folder is not None else []
    if not candidates and SHIPPED_SCENARIOS.is_dir():
        candidates = sorted(SHIPPED_SCENARIOS.glob("*.yaml"))
    if not candidates:
        return ""
    by_stem = {c.stem: c for c in candidates}
    hint = did_you_mean(path.stem, by_stem)
    if not hint:
        return ""
    stem = hint.split("'")[1]
    shown = by_stem[stem] if folder is not None else by_stem[stem].relative_to(SHIPPED_SCENARIOS.parent)
    return f" (did you mean {str(shown)!r}?)"
