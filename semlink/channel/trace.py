"""Erasures replayed from a recorded loss trace.

The trace is a text file of ``0`` (delivered) and ``1`` (lost), one entry per packet, separated by
spaces or newlines; ``#`` starts a comment that runs to the end of its line. The trace repeats
cyclically; the position carries across calls and :meth:`TraceChannel.reset` goes back to its start.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from semlink.channel.base import CHANNELS, DELIVERED, ERASED, FATE_DTYPE, ChannelModel

NAME = "trace"


def _read_text(path: str) -> str:
    """The file's text, or a one-line ``ValueError`` naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"{NAME}: cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{NAME}: cannot read {path}: not a UTF-8 text file") from None


def read_trace(path: str) -> np.ndarray:
    """Parse a loss trace.

    :param path: the trace file.
    :return: [L] bool, True where the packet is lost, L >= 1.
    :raises ValueError: naming the file (and the line) if it is missing, unreadable, empty or
        holds anything but 0 and 1 outside comments.
    """
    entries: list[bool] = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        for token in line.split("#", 1)[0].split():
            if token not in ("0", "1"):
                raise ValueError(f"{NAME}: {path}:{number}: expected 0 or 1, got {token[:20]!r}")
            entries.append(token == "1")
    if not entries:
        raise ValueError(f"{NAME}: {path} holds no 0/1 entries")
    return np.array(entries, dtype=bool)


@CHANNELS.register(NAME)
class TraceChannel(ChannelModel):
    """Replays a 0/1 loss trace cyclically; draws nothing from the generator.

    :param path: the trace file (see the module docstring for its format).
    """

    name = NAME
    files = ("path",)

    def __init__(self, path: str) -> None:
        if not isinstance(path, str | os.PathLike):
            raise ValueError(f"{NAME}: path={path!r} must be a file path")
        self.path = os.fspath(path)
        self.lost = read_trace(self.path)
        self._position = 0

    def reset(self) -> None:
        """Go back to the start of the trace."""
        self._position = 0

    def _fates(self, sizes_bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """[N] int8: the next N trace entries (wrapping around) as :data:`ERASED` / :data:`DELIVERED`."""
        n = sizes_bits.size
        lost = self.lost[(self._position + np.arange(n)) % self.lost.size]
        self._position = (self._position + n) % self.lost.size
        return np.where(lost, ERASED, DELIVERED).astype(FATE_DTYPE)
