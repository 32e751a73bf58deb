"""Logging and progress for every command: rich bars on a terminal, timestamped lines elsewhere.

Everything semlink reports while it works goes through the ``semlink`` logger (:data:`LOGGER`
and its children, e.g. ``semlink.receiver``), so ``-q``/``-v`` set how much reaches stderr and
``--log-file`` keeps all of it (debug included) with timestamps. Progress comes in one shape,
:class:`ProgressDisplay` (named counters with totals), drawn by :class:`RichBars` when stderr is a
terminal and by :class:`PlainLines` otherwise: a line every few seconds with the counts, the rate
of the last counter and an ETA, so ``semlink run > log 2>&1`` shows how far a run is while it
runs. Written here because rich draws nothing when stderr is not a terminal and
:mod:`logging` has no notion of progress.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

LOGGER = logging.getLogger("semlink")
"""The package's logger; modules log to children of it (``logging.getLogger(__name__)``)."""
PROGRESS_EVERY_S = 30.0
"""Seconds between two progress lines when stderr is not a terminal (``--progress-every``)."""
PLAIN_FORMAT = "%(asctime)s %(message)s"
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_HANDLER_MARK = "_semlink_handler"


def configure_logging(
    verbosity: int = 0, log_file: Path | None = None, stream: TextIO | None = None, timestamps: bool | None = None
) -> None:
    """Route the ``semlink`` logger to ``stream`` (default stderr) and, if given, to ``log_file``.

    :param verbosity: -1 (``-q``: warnings and errors only), 0 (progress and milestones), 1 or more
        (``-v``: debug too).
    :param log_file: also append every record, debug included, here (its folder is created).
    :param timestamps: prefix stderr lines with the time (default: when ``stream`` is not a terminal).
    :raises ValueError: for a log file that cannot be opened (one line, naming it).
    """
    stream = stream if stream is not None else sys.stderr
    _Settings.verbosity = verbosity
    for handler in [h for h in LOGGER.handlers if getattr(h, _HANDLER_MARK, False)]:
        LOGGER.removeHandler(handler)
        handler.close()
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    console = logging.StreamHandler(stream)
    console.setLevel(level)
    stamped = timestamps if timestamps is not None else not is_terminal(stream)
    console.setFormatter(logging.Formatter(PLAIN_FORMAT if stamped else "%(message)s", TIME_FORMAT))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        handlers.append(file_handler(log_file))
    for handler in handlers:
        setattr(handler, _HANDLER_MARK, True)
        LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.DEBUG if log_file is not None else level)
    LOGGER.propagate = False


def file_handler(path: Path) -> logging.Handler:
    """A handler appending every record to ``path`` with its time, level and logger."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as error:
        raise ValueError(f"--log-file {path}: cannot open it ({error.strerror}); pick a writable path") from None
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FILE_FORMAT, TIME_FORMAT))
    return handler


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressDisplay(Protocol):
    """Named counters with totals (e.g. points and frames), shown while work goes on.

    Use as a context manager; :meth:`advance` may be called from any thread.
    """

    def __enter__(self) -> ProgressDisplay: ...

    def __exit__(self, *exc: object) -> None: ...

    def advance(self, name: str, amount: int = 1) -> None:
        """Count ``amount`` more of counter ``name``."""

    def note(self, text: str) -> None:
        """Show ``text`` beside the counters (e.g. the work cache's hit rate) from now on."""


class RichBars:
    """:class:`ProgressDisplay` as rich progress bars (for a terminal).

    :param console: where to draw. :param totals: counter name -> total, in display order.
    """

    def __init__(self, console: Console, totals: dict[str, int]) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks = {name: self.bar.add_task(name, total=total) for name, total in totals.items()}
        self._lock = threading.Lock()

    def __enter__(self) -> RichBars:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def advance(self, name: str, amount: int = 1) -> None:
        """Count ``amount`` more of ``name``."""
        with self._lock:
            self.bar.advance(self.tasks[name], amount)

    def note(self, text: str) -> None:
        """Show ``text`` in the first bar's description."""
        with self._lock:
            first = next(iter(self.tasks))
            self.bar.update(self.tasks[first], description=f"{first} ({text})")


class PlainLines:
    """:class:`ProgressDisplay` as a log line every ``every_s`` seconds (for logs and pipes).

    A line reads ``points 3/20 · frames 150/400 · 4.2 frames/s · ETA 1 min`` (rate and ETA of the
    last counter, the finest one); a last line is written at the end.

    :param totals: counter name -> total, in display order. :param what: the work, for the lines
        (``run``, ``training``). :param every_s: seconds between lines. :param logger: where lines go.
    """

    def __init__(
        self, totals: dict[str, int], what: str, every_s: float = PROGRESS_EVERY_S, logger: logging.Logger = LOGGER
    ) -> None:
        self.totals, self.what, self.every_s, self.logger = dict(totals), what, every_s, logger
        self.done = dict.fromkeys(totals, 0)
        self.extra = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)

    def __enter__(self) -> PlainLines:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if exc[0] is None:  # on an error, its one line is what the user reads
            self.logger.info("%s %s", self.what, self.line(final=True))

    def advance(self, name: str, amount: int = 1) -> None:
        """Count ``amount`` more of ``name``."""
        with self._lock:
            self.done[name] += amount

    def note(self, text: str) -> None:
        """Add ``text`` to the lines, after the rate."""
        with self._lock:
            self.extra = text

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            self.logger.info("%s %s", self.what, self.line())

    def line(self, final: bool = False) -> str:
        """The counts, the rate of the last counter and an ETA (or the time taken, when ``final``)."""
        with self._lock:
            done, extra = dict(self.done), self.extra
        elapsed = time.monotonic() - self._started
        words = [f"{name} {done[name]}/{total}" for name, total in self.totals.items()]
        finest = list(self.totals)[-1]
        rate = done[finest] / elapsed if elapsed > 0 else 0.0
        words.append(f"{rate:.3g} {finest}/s")
        if extra:
            words.append(extra)
        if final:
            words.append(f"took {duration(elapsed)}")
        else:
            left = self.totals[finest] - done[finest]
            words.append(f"ETA {duration(left / rate)}" if rate > 0 else "ETA unknown")
        return " · ".join(words)


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 07 min``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_display(
    totals: dict[str, int], what: str, console: Console | None = None, every_s: float | None = None
) -> ProgressDisplay:
    """Bars when ``console`` is a terminal (and the logger shows progress), else plain lines.

    :param totals: counter name -> total, in display order. :param what: the work, for plain lines.
    :param every_s: seconds between plain lines (default :data:`PROGRESS_EVERY_S`, or ``--progress-every``).
    """
    console = console or Console(stderr=True)
    every = every_s if every_s is not None else progress_every()
    quiet = not LOGGER.isEnabledFor(logging.INFO)
    if console.is_terminal and not quiet:
        return RichBars(console, totals)
    return PlainLines(totals, what, every)


class _Settings:
    """What :func:`configure_logging` and ``--progress-every`` chose for this process."""

    verbosity = 0
    progress_every_s = PROGRESS_EVERY_S


def set_progress_every(seconds: float) -> None:
    """Seconds between plain progress lines from now on (``--progress-every``)."""
    if seconds <= 0:
        raise ValueError(f"--progress-every {seconds:g} must be positive")
    _Settings.progress_every_s = seconds


def progress_every() -> float:
    """Seconds between plain progress lines."""
    return _Settings.progress_every_s


def child_flags() -> list[str]:
    """The flags that give a child process (a node under ``semlink run``) this process's verbosity
    and progress interval."""
    flags = ["-q"] if _Settings.verbosity < 0 else ["-v"] * _Settings.verbosity
    return [*flags, "--progress-every", f"{_Settings.progress_every_s:g}"]


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """``-v``, ``-q``, ``--log-file`` and ``--progress-every`` on every command that does work
    (the leaves of the command tree: options on a parent would be overwritten by its subcommand's defaults)."""
    children = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if children:
        for child in {id(p): p for action in children for p in action.choices.values()}.values():
            add_logging_options(child)
        return
    group = parser.add_argument_group("output")
    group.add_argument("-v", "--verbose", action="count", default=0, help="say more (debug messages too)")
    group.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors (no progress)")
    group.add_argument("--log-file", type=Path, default=None, help="also append every message, with times, here")
    group.add_argument(
        "--progress-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between progress lines when stderr is not a terminal (default 30)",
    )


def apply_logging_options(args: argparse.Namespace) -> None:
    """Configure the ``semlink`` logger from ``-v``/``-q``/``--log-file``/``--progress-every``."""
    verbosity = -1 if getattr(args, "quiet", False) else int(getattr(args, "verbose", 0))
    configure_logging(verbosity, getattr(args, "log_file", None))
    if getattr(args, "progress_every", None) is not None:
        set_progress_every(args.progress_every)
