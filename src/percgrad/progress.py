"""A Rich progress bar on stderr for work that takes more than a moment."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

SHOW_AFTER_S = 0.5

Update = Callable[[int, int], None]


@contextmanager
def progress_for(label: str, enabled: bool) -> Iterator[Update | None]:
    """Yield an ``update(done, total)`` callback that shows a bar once the work has taken
    ``SHOW_AFTER_S``; None when disabled (``--json``) or stderr is not a terminal."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    start = time.perf_counter()
    bar: Progress | None = None
    task = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            if time.perf_counter() - start < SHOW_AFTER_S or done >= total:
                return
            bar = Progress(
                TextColumn(label), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                console=console, transient=True,
            )
            bar.start()
            task = bar.add_task(label, total=total)
        assert task is not None
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()
