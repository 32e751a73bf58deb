"""Progress of a run: points and frames as they finish, on a terminal as bars, elsewhere as lines."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading

from rich.console import Console

from semlink.logs import progress_display


class RunProgress:
    """Points and frames progress (bars on a terminal, log lines elsewhere), fed by the
    receiver's JSON lines or direct calls.

    :param console: where to draw. :param points: points (realisations of points) to run.
    :param frames: frames per point.
    """

    def __init__(self, console: Console, points: int, frames: int) -> None:
        self.frames = frames
        self.display = progress_display({"points": points, "frames": points * frames}, "run", console)
        self._lock = threading.Lock()

    def __enter__(self) -> RunProgress:
        self.display.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.display.__exit__(*exc)

    def cache_rate(self, hits: int, lookups: int) -> None:
        """Show the work cache's hit rate so far (``hits`` of ``lookups``)."""
        if lookups:
            self.display.note(f"cache {100 * hits / lookups:.0f} % hits")

    def points_done(self, count: int) -> None:
        """``count`` points (realisations) finished whole, their frames with them."""
        with self._lock:
            self.display.advance("frames", count * self.frames)
            self.display.advance("points", count)

    def on_frame(self, point: int, done: int) -> None:
        """A frame of ``point`` was scored; a point is done after its last frame."""
        with self._lock:
            self.display.advance("frames")
            if done == self.frames:
                self.display.advance("points")

    def follow(self, receiver: subprocess.Popen[str]) -> None:
        """Read the receiver's progress lines until it exits."""
        assert receiver.stdout is not None
        for line in receiver.stdout:  # keep draining whatever else a user's code prints
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                event = json.loads(line)
                if isinstance(event, dict) and "frame" in event:
                    self.on_frame(int(event["point"]), int(event["frame"]))
                    if "hits" in event:
                        self.cache_rate(int(event["hits"]), int(event["lookups"]))
