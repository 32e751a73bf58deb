"""``semlink channel tables``: compute the BLER tables with the link-level chain (slow, offline)."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from semlink.channel.phy.mcs import mcs
from semlink.channel.phy.offline.waterfall import BlerPoint, waterfall

DEFAULT_MCS = (2, 3, 4, 5, 7, 9, 11, 13, 15, 17, 19, 20, 22, 24, 26)
"""The MCS indices of the shipped tables (about 1.5-2 dB apart, QPSK to 256-QAM)."""
DEFAULT_BLOCKS = (256, 1024, 3824)
"""The code-block sizes of the shipped tables (information bits)."""


def build_tables(
    out: Path,
    mcs_indices: Sequence[int] = DEFAULT_MCS,
    block_sizes: Sequence[int] = DEFAULT_BLOCKS,
    seed: int = 0,
    step_db: float = 0.25,
    max_blocks: int = 200,
    command: str = "",
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """Simulate every (MCS, block size) waterfall and write them to ``out`` as JSON.

    The file is rewritten after every finished waterfall, so an interrupted build keeps what it made.
    Each (MCS, block size) draws from its own stream of ``SeedSequence(seed)``.

    :return: the JSON document written.
    """
    doc: dict[str, object] = {
        "comment": "BLER of semlink's link-level chain on AWGN (5G LDPC, 20 BP iterations, APP demapping); "
        "snr_db is Es/N0 per QAM symbol",
        "command": command,
        "seed": seed,
        "step_db": step_db,
        "max_blocks": max_blocks,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "tables": {},
    }
    tables: dict[str, dict[str, object]] = {}
    doc["tables"] = tables
    streams = np.random.SeedSequence(seed).spawn(len(mcs_indices) * len(block_sizes))
    started = time.monotonic()
    for i, index in enumerate(mcs_indices):
        scheme = mcs(index)
        for j, size in enumerate(block_sizes):
            rng = np.random.default_rng(streams[i * len(block_sizes) + j])
            points = waterfall(scheme, size, rng, step_db=step_db, max_blocks=max_blocks)
            tables.setdefault(str(index), {})[str(size)] = curve_json(points)
            doc["seconds"] = round(time.monotonic() - started, 1)
            doc["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            write_json(out, doc)
            mid = next((p.snr_db for p in points if p.bler < 0.1), float("nan"))
            log(
                f"mcs {index} ({scheme.modulation} {scheme.code_rate:.3f}) k={size}: {len(points)} points, "
                f"BLER < 0.1 from {mid:.2f} dB ({time.monotonic() - started:.0f} s)"
            )
    return doc


def curve_json(points: list[BlerPoint]) -> dict[str, list[float] | list[int]]:
    """One waterfall as JSON lists."""
    return {
        "snr_db": [p.snr_db for p in points],
        "bler": [round(p.bler, 6) for p in points],
        "blocks": [p.blocks for p in points],
    }


def write_json(path: Path, doc: dict[str, object]) -> None:
    """Write ``doc`` to ``path`` through a temporary file (never a half-written table)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(doc, indent=1) + "\n")
    temporary.replace(path)
