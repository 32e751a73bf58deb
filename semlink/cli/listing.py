"""``semlink list codecs|channels|metrics|segmenters|scenarios``: what a scenario can name, one line each."""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from semlink.cli.common import OneLineParser
from semlink.settings import settings_of

KINDS = ("codecs", "channels", "metrics", "segmenters", "scenarios")


def add_list(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink list KIND``."""
    listing = sub.add_parser("list", help="list the codecs, channel models, metrics, segmenters or shipped scenarios")
    listing.add_argument("kind", choices=KINDS, help="what to list")
    listing.set_defaults(handler=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print one line per component (its name, settings and summary) or shipped scenario."""
    for line in scenario_lines() if args.kind == "scenarios" else component_lines(args.kind):
        print(line)
    return 0


def registry_of(kind: str) -> Any:
    """The registry of a kind, with its built-in components registered (their package imported)."""
    module, registry = {
        "codecs": ("semlink.codecs", "semlink.codecs.base:CODECS"),
        "channels": ("semlink.channel", "semlink.channel.base:CHANNELS"),
        "metrics": ("semlink.metrics", "semlink.metrics.base:METRICS"),
        "segmenters": ("semlink.vision.segmenter", "semlink.vision.segmenter:SEGMENTERS"),
    }[kind]
    importlib.import_module(module)
    path, _, name = registry.partition(":")
    return getattr(importlib.import_module(path), name)


def component_lines(kind: str) -> list[str]:
    """``name  settings: a, b  — summary`` for each component of ``kind``."""
    registry = registry_of(kind)
    rows = [(name, setting_words(registry.get(name)), summary_of(registry.get(name))) for name in registry.names()]
    width = max(len(name) for name, _, _ in rows)
    lines = []
    for name, settings, summary in rows:
        knobs = f"  [{', '.join(settings)}]" if settings else ""
        lines.append(f"{name:<{width}}  {summary}{knobs}")
    return lines


def setting_words(factory: Callable[..., Any]) -> list[str]:
    """The settings a scenario can give ``factory``, from the one declaration the checks use
    (:func:`semlink.settings.settings_of`): ``quality``, ``target_bpp=None``, its knob marked."""
    try:
        declared = settings_of(factory)
    except (TypeError, ValueError):
        return []
    if declared is None:
        return ["any settings (its constructor takes **kwargs)"]
    knob = getattr(factory, "knob", None)
    words = []
    for setting in declared:
        default = "" if setting.required else f"={setting.default!r}"
        words.append(f"{setting.name}{default}{' (knob)' if setting.name == knob else ''}")
    return words


def summary_of(factory: Callable[..., Any]) -> str:
    """The first sentence of the factory's docstring, without reST markup."""
    doc = inspect.getdoc(factory) or ""
    paragraph = " ".join(doc.split("\n\n")[0].split())
    sentence = re.split(r"(?<=[^.]\.)\s", paragraph, maxsplit=1)[0].rstrip(".:")
    plain = re.sub(r":\w+:`~?([^`]+)`", r"\1", sentence).replace("``", "")
    return plain or "(no description)"


def scenario_lines() -> list[str]:
    """``name  first comment line`` for each shipped scenario."""
    from semlink.cli.run import default_scenario

    folder = default_scenario().parent
    paths = sorted(Path(folder).glob("*.yaml"))
    if not paths:
        return [f"no scenarios in {folder}"]
    width = max(len(path.stem) for path in paths)
    return [f"{path.stem:<{width}}  {first_comment(path)}  ({path})" for path in paths]


def first_comment(path: Path) -> str:
    """The first sentence of a YAML file's leading comment (its summary), or its name.

    The comment's lines (up to a blank line or a ``- `` list) are joined and cut after the first
    full stop followed by a space, or at the end, so a summary is never cut mid-sentence (the
    stop of a one-letter abbreviation such as ``i.i.d.`` or ``e.g.`` does not end one).
    """
    words: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.lstrip("#").strip()
        if not line.startswith("#") or not text or text.startswith("- "):
            if words or (line.strip() and not line.startswith("#")):
                break
            continue
        words.append(text)
    joined = " ".join(words)
    end = re.search(r"(?<!\.\w)(?<!\s\w)\.\s", joined)
    return (joined[: end.start() + 1] if end else joined) or path.stem
