"""Errors shared by the stages, and the "did you mean" that user errors end with."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ScenarioError(ValueError):
    """A scenario that cannot be read or is invalid; the message names the file and field."""


class StageError(RuntimeError):
    """The stages of a run disagree (they were given different scenarios) or a peer failed."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the choice closest to ``word``, or ``""`` if none is close.

    :param word: what the user typed. :param choices: the names that exist.
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
