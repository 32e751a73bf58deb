"""The settings a report opens with: what the run was (from the ``scenario.yaml`` it left beside
its results: seed, data, channel, link, segmenter, codecs), when its results were written, and
which semlink (with which Python and libraries) drew the report."""

from __future__ import annotations

import datetime
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from semlink import __version__
from semlink.report.labels import range_text, setting_text
from semlink.results.rows import number

SCENARIO_FILE = "scenario.yaml"
VERSIONED = ("numpy", "torch", "matplotlib", "pyzmq")
"""The libraries whose versions the report names (those installed)."""
LINK_COLUMNS = {"mtu": "link.mtu", "fps": "link.fps", "deadline_ms": "link.deadline_ms", "window": "link.window"}


def said(column: str, value: Any) -> str:
    """A setting in words; a list of several values (an axis of the sweep) as its range:
    ``SNR 0–20 dB (swept)``, ``MTU its-g5 / MTU ip (swept)``."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, list):
        return setting_text(column, f"{value:g}" if isinstance(value, float) else str(value))
    cells = [str(v) for v in value]
    if all(number(c) is not None for c in cells):
        cells = sorted(cells, key=float)
    if len(cells) > 2 and all(number(c) is not None for c in cells):
        return f"{range_text(column, cells)} (swept)"
    return f"{' / '.join(setting_text(column, c) for c in cells)} (swept)"


def read_scenario(folder: Path) -> dict[str, Any] | None:
    """The run's resolved scenario, or None when the folder has none (or an unreadable one)."""
    path = folder / SCENARIO_FILE
    try:
        loaded = yaml.safe_load(path.read_text()) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def scenario_lines(scenario: dict[str, Any]) -> list[str]:
    """The run's settings, one line each: run and seed, data, channel, link, segmenter, codecs."""
    data = scenario.get("data") or {}
    size = data.get("size")
    size_text = (
        f", {size[0]}×{size[1]}" if isinstance(size, list) and len(size) == 2 and not isinstance(size[0], list) else ""
    )
    repeats = scenario.get("seeds") or scenario.get("repeats") or 1
    realisations = (
        f"seeds {', '.join(map(str, repeats))}"
        if isinstance(repeats, list)
        else f"{repeats} channel realisation{'s' if repeats != 1 else ''} per point"
    )
    channel = dict(scenario.get("channel") or {})
    model = channel.pop("model", "ideal")
    link = scenario.get("link") or {}
    link_words = [said(column, link[key]) for key, column in LINK_COLUMNS.items() if link.get(key) is not None]
    segmenter = scenario.get("segmenter") or f"the shipped one for {data.get('source', 'the data')}"
    return [
        f"Run `{scenario.get('name', '?')}`: seed {scenario.get('seed', 0)}, {realisations}, "
        f"transport {scenario.get('transport', '?')}.",
        f"Data: {data.get('source', '?')} {data.get('split', '')}, {data.get('frames', '?')} frames a point"
        f"{size_text}.".replace(" ,", ","),
        f"Channel: {', '.join([str(model), *(said(k, v) for k, v in channel.items() if v is not None)])}.",
        f"Link: {', '.join(link_words) or 'defaults'}.",
        f"Segmenter: {segmenter}.",
        f"Codecs: {'; '.join(codec_words(entry) for entry in scenario.get('codecs') or [])}.",
    ]


def codec_words(entry: dict[str, Any]) -> str:
    """``sqgan (target 0.05 bpp, map ×2)``: a codec entry of the scenario in words."""
    settings = {k: v for k, v in entry.items() if k not in ("name", "options") and v is not None}
    settings.update(entry.get("options") or {})
    words = ", ".join(said(k, v) for k, v in settings.items())
    return f"{entry.get('name', '?')} ({words})" if words else str(entry.get("name", "?"))


def written_at(path: Path) -> str:
    """When ``path`` was last written, as ``2026-12-07 07:07 UTC``."""
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def settings_lines(folders: Sequence[Path]) -> list[str]:
    """The report's opening lines: each run's settings, when its results were written, and the
    semlink version that drew the report."""
    lines = []
    for folder in folders:
        scenario = read_scenario(folder)
        prefix = f"{folder.resolve().name}: " if len(folders) > 1 else ""
        if scenario is None:
            lines.append(f"{prefix}no `{SCENARIO_FILE}` beside `results.csv`, so the run's settings are unknown.")
        else:
            lines += [f"{prefix}{line}" for line in scenario_lines(scenario)]
        results = folder / "results.csv"
        if results.is_file():
            lines.append(f"{prefix}`results.csv` written {written_at(results)}.")
    today = datetime.datetime.now(tz=datetime.timezone.utc).strftime("%Y-%m-%d")
    lines.append(f"Report drawn by semlink {__version__} on {today} ({versions()}).")
    return lines


def versions() -> str:
    """``Python 3.12.3, numpy 2.1.0, torch 2.13.0, ...``: the interpreter and the libraries of
    :data:`VERSIONED` that are installed (read from their metadata, nothing imported)."""
    found = [f"Python {platform.python_version()}"]
    for name in VERSIONED:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)
