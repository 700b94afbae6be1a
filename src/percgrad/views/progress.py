"""Rich progress on stderr for a run that takes more than a moment: one row per phase under way
(a bar where the engine counts its work, a pulsing bar where it cannot), none for a finished
phase, and a "working" row between phases, each with the time it has taken, so that the screen
moves whenever the run does."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.file_proxy import FileProxy
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
)
from rich.text import Text

SHOW_AFTER_S = 0.5
"""Rows appear once a run has taken this long: quick runs show nothing."""
IDLE = "working"
"""The row shown while no phase is under way."""

Update = Callable[[int, int], None]
Tracker = Callable[[str], Update]
"""``track(label)`` gives the ``update(done, total)`` of one phase (its own row)."""


def clock(seconds: float | None) -> str:
    """A duration as ``7 s`` or ``2:05``."""
    if seconds is None:
        return "–"
    whole = int(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60}:{whole % 60:02d}"


class Clock(ProgressColumn):
    """The time a phase has taken, and the time left where it counts its work."""

    def render(self, task: Task) -> Text:
        spent = clock(task.elapsed)
        if task.total is None or not task.completed or task.time_remaining is None:
            return Text(spent, style="progress.elapsed")
        return Text(f"{spent}, ~{clock(task.time_remaining)} left", style="progress.remaining")


class Board:
    """The rows of one run. ``update(done, total)`` with ``total`` at most 1 marks a phase that
    cannot count its work (drawn pulsing until ``done`` reaches ``total``); a finished phase's
    row goes, and the same label later starts a new row."""

    def __init__(self, console: Console) -> None:
        self.lock = threading.Lock()
        self.start = time.perf_counter()
        self.bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            TaskProgressColumn(text_format_no_percentage=""), Clock(),
            console=console, transient=True,
        )
        self.idle = self.bar.add_task(IDLE, total=None)
        self.rows: dict[str, TaskID] = {}
        self.shown = self.closed = False

    def show(self) -> None:
        """Start drawing (from the timer thread, or from an update once SHOW_AFTER_S passed)."""
        with self.lock:
            self._show()

    def _show(self) -> None:
        if not self.shown and not self.closed:
            self.shown = True
            self.bar.start()

    def close(self) -> None:
        """Stop drawing; nothing of the rows stays on the screen. Rich puts back the
        ``sys.stdout`` it found when the drawing began: where a redirection begun after that has
        already ended (``stdout_to_stderr`` around user code), the stream it restored stays."""
        with self.lock:
            self.closed = True
            if self.shown:
                out, err = sys.stdout, sys.stderr
                self.bar.stop()
                if not isinstance(out, FileProxy):
                    sys.stdout = out
                if not isinstance(err, FileProxy):
                    sys.stderr = err

    def track(self, label: str) -> Update:
        """The ``update(done, total)`` of the phase ``label``."""

        def update(done: int, total: int) -> None:
            with self.lock:
                self._update(label, done, total)

        return update

    def _update(self, label: str, done: int, total: int) -> None:
        finished = done >= total
        row = self.rows.get(label)
        if finished:
            if row is not None:
                self.bar.remove_task(row)
                del self.rows[label]
        elif row is None:
            self.rows[label] = self.bar.add_task(label, total=None if total <= 1 else total,
                                                 completed=0 if total <= 1 else done)
        else:
            self.bar.update(row, completed=0 if total <= 1 else done,
                            total=None if total <= 1 else total)
        self.bar.update(self.idle, visible=not self.rows)
        if not self.closed and time.perf_counter() - self.start >= SHOW_AFTER_S:
            self._show()
            if row is None and not finished:
                self.bar.refresh()  # a new phase is seen at once, however short


@contextmanager
def phases(enabled: bool, console: Console | None = None) -> Iterator[Tracker | None]:
    """Yield ``track(label) -> update(done, total)``, one row per phase on stderr, drawn once
    the run has taken ``SHOW_AFTER_S`` (a "working" row while no phase is under way); None when
    disabled (``--json``) or stderr is not a terminal. The rows are transient."""
    console = console or Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    board = Board(console)
    timer = threading.Timer(SHOW_AFTER_S, board.show)
    timer.daemon = True
    timer.start()
    try:
        yield board.track
    finally:
        timer.cancel()
        board.close()


@contextmanager
def progress_for(label: str, enabled: bool) -> Iterator[Update | None]:
    """One phase's ``update(done, total)``, or None (see ``phases``)."""
    with phases(enabled) as track:
        yield None if track is None else track(label)
