"""Rich progress bars on stderr for the phases of a run that take more than a moment."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn

SHOW_AFTER_S = 0.5
"""Bars appear once a run has taken this long: quick runs show nothing."""

Update = Callable[[int, int], None]
Tracker = Callable[[str], Update]
"""``track(label)`` gives the ``update(done, total)`` of one phase (its own bar)."""


@contextmanager
def phases(enabled: bool, console: Console | None = None) -> Iterator[Tracker | None]:
    """Yield ``track(label) -> update(done, total)``, one bar per phase on stderr, shown once
    the run has taken ``SHOW_AFTER_S``; None when disabled (``--json``) or stderr is not a
    terminal. The bars are transient: nothing of them stays on the screen."""
    console = console or Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    start = time.perf_counter()
    bar: Progress | None = None
    tasks: dict[str, TaskID] = {}

    def track(label: str) -> Update:
        def update(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                if time.perf_counter() - start < SHOW_AFTER_S or done >= total:
                    return
                bar = Progress(
                    TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                    TimeRemainingColumn(), console=console, transient=True,
                )
                bar.start()
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        return update

    try:
        yield track
    finally:
        if bar is not None:
            bar.stop()


@contextmanager
def progress_for(label: str, enabled: bool) -> Iterator[Update | None]:
    """One phase's ``update(done, total)``, or None (see ``phases``)."""
    with phases(enabled) as track:
        yield None if track is None else track(label)
