"""The cells of ``results.csv`` as Python values, for the API: numbers as numbers, text as text.

Each column gets one kind for all its rows:

- text: ``codec``, ``channel``, ``channel_params``, ``rejected_by``, ``point_key`` (and ``run``,
  ``segmenter``), and any axis whose cells are not all numbers (``size`` as ``256x512``, an MTU
  preset's name);
- int: ``seed``, ``repeats``, ``frames``, ``rejected``, and numeric axes whose cells are all whole
  numbers (``quality``, ``block``, ``link.mtu``);
- int where whole, else float: ``packets_sent``, ``packets_lost``, ``deadline_misses`` (means
  over the realisations);
- float: every other numeric column (metrics and their ``_lo``/``_hi`` intervals, ``bpp``,
  ``bpp_wire``, the radio's columns, numeric axes such as ``loss`` or ``target_bpp``).

An empty cell (no value: an axis a codec does not have, a radio column without a radio, a NaN
estimate) is ``None`` in every kind but text, where it stays ``""``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

Cell = str | int | float | None
TypedRow = dict[str, Cell]
Kind = Literal["text", "int", "count", "float"]

TEXT_COLUMNS = frozenset({"codec", "channel", "channel_params", "rejected_by", "point_key", "run", "segmenter"})
INTEGER_COLUMNS = frozenset({"seed", "repeats", "frames", "rejected"})
COUNT_COLUMNS = frozenset({"packets_sent", "packets_lost", "deadline_misses"})
"""Counters written as means over the realisations: whole numbers as ints, the rest as floats."""


def typed_rows(rows: Sequence[Mapping[str, str]]) -> list[TypedRow]:
    """The rows of a ``results.csv`` (text cells, as :class:`csv.DictReader` gives them) with their
    cells converted by their column's kind (see the module docstring)."""
    if not rows:
        return []
    header = list(rows[0])
    axes = axis_columns(header)
    kinds = {column: column_kind(column, [row.get(column) or "" for row in rows], column in axes) for column in header}
    return [{column: converted(text or "", kinds.get(column, "text")) for column, text in row.items()} for row in rows]


def axis_columns(header: Sequence[str]) -> set[str]:
    """The axis columns of a results header: those between ``codec`` and ``channel``."""
    if "codec" not in header or "channel" not in header:
        return set()
    return set(header[header.index("codec") + 1 : header.index("channel")])


def column_kind(column: str, cells: Sequence[str], is_axis: bool) -> Kind:
    """The kind of a column from its name and, for the others, from its cells."""
    if column in TEXT_COLUMNS:
        return "text"
    if column in INTEGER_COLUMNS:
        return "int"
    if column in COUNT_COLUMNS:
        return "count"
    filled = [cell for cell in cells if cell != ""]
    if not all(is_number(cell) for cell in filled):
        return "text"
    if is_axis and filled and all(is_whole_literal(cell) for cell in filled):
        return "int"
    return "float"


def converted(text: str, kind: Kind) -> Cell:
    """One cell as its kind's value (``None`` for an empty cell unless the kind is text)."""
    if kind == "text":
        return text
    if text == "":
        return None
    if kind == "int" and is_whole_literal(text):
        return int(text)
    value = float(text)
    if kind == "count" and value.is_integer():
        return int(value)
    return value


def is_number(text: str) -> bool:
    """Whether a cell reads as a float (``inf`` included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_whole_literal(text: str) -> bool:
    """Whether a cell is written as a whole number (``12``, ``-3``; not ``12.0`` or ``1e3``)."""
    return text.lstrip("+-").isdigit()
