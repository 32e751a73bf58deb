"""Row keys and the points' side file.

A row's ``point_key`` is a short stable hash (16 hex digits) of everything that decides its
numbers: the point's full key (:attr:`semlink.scenario.sweep.Point.key`: its resolved settings and
the run context) and the realisations it ran with. The full description of each point goes to
``points.jsonl`` beside ``results.csv`` (one JSON object per point of the sweep, keyed by the same
hash), so a spreadsheet sees a short column and nothing is lost.

Folders written before the hash (whose ``point_key`` cells are the JSON text itself) are upgraded
in place when a run opens them: each such cell becomes the hash of its text, which is exactly the
key this version computes for the same point, so resuming them works.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from semlink.scenario.schema import Scenario
from semlink.scenario.sweep import Point

KEY_COLUMN = "point_key"
POINTS_FILE = "points.jsonl"
KEY_DIGITS = 16


def key_hash(text: str) -> str:
    """The short hash of a full key's text."""
    return hashlib.blake2b(text.encode(), digest_size=KEY_DIGITS // 2).hexdigest()


def full_key(scenario: Scenario, point: Point) -> str:
    """What identifies a finished row, in full: the point's key and the realisations it ran with."""
    return json.dumps([point.key, scenario.seeds if scenario.seeds is not None else scenario.repeats])


def row_key(scenario: Scenario, point: Point) -> str:
    """The ``point_key`` of a point's row: :func:`key_hash` of :func:`full_key`."""
    return key_hash(full_key(scenario, point))


def stored_key(cell: str) -> str:
    """A ``point_key`` cell as this version keys it (a legacy JSON cell becomes its hash)."""
    return key_hash(cell) if cell.startswith("[") else cell


def point_line(scenario: Scenario, point: Point) -> dict[str, Any]:
    """A point's line of ``points.jsonl``: its key, index and every setting, the context decoded."""
    return {
        KEY_COLUMN: row_key(scenario, point),
        "point": point.index,
        "codec": point.codec,
        "codec_args": point.codec_args,
        "channel": point.channel,
        "params": point.params,
        "impairments": point.impairments,
        "link": point.link.__dict__,
        "size": list(point.size) if point.size is not None else None,
        "segmenter": point.segmenter,
        "axes": point.axes,
        "context": json.loads(point.context) if point.context else {},
        "realisations": scenario.seeds if scenario.seeds is not None else scenario.repeats,
    }


def write_points(folder: Path, scenario: Scenario, points: Sequence[Point]) -> Path:
    """Write ``folder/points.jsonl`` (every point of the sweep; lines of other points that an earlier
    sweep into the folder wrote are kept) atomically; returns its path."""
    path = folder / POINTS_FILE
    lines = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                lines[json.loads(line)[KEY_COLUMN]] = line
            except (ValueError, KeyError, TypeError):
                continue
    for point in points:
        entry = point_line(scenario, point)
        lines[entry[KEY_COLUMN]] = json.dumps(entry, sort_keys=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(f"{line}\n" for line in lines.values()))
    os.replace(temporary, path)
    return path


def upgrade_legacy_keys(csv_path: Path, frames_path: Path) -> bool:
    """Rewrite a folder's JSON ``point_key`` cells (and frame lines) as hashes; True if it did."""
    if not csv_path.exists():
        return False
    with csv_path.open(newline="") as handle:
        text = handle.read()
    rows = list(csv.DictReader(io.StringIO(text)))
    if not any(row.get(KEY_COLUMN, "").startswith("[") for row in rows):
        return False
    header = next(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, KEY_COLUMN: stored_key(row.get(KEY_COLUMN, ""))})
    if frames_path.exists():
        replace_text(frames_path, "".join(upgraded_frame_line(line) for line in frames_path.open()))
    replace_text(csv_path, out.getvalue())
    return True


def upgraded_frame_line(line: str) -> str:
    """A ``frames.jsonl`` line with its legacy key hashed (other lines as they are)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    key = entry.get(KEY_COLUMN) if isinstance(entry, dict) else None
    if not isinstance(key, str) or not key.startswith("["):
        return line
    entry[KEY_COLUMN] = stored_key(key)
    return json.dumps(entry) + "\n"


def replace_text(path: Path, text: str) -> None:
    """Replace a file's text atomically (a temporary file renamed over it, synced)."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
