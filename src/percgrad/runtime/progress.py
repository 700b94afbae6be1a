"""The progress callbacks an engine reports through (no Rich: the views draw them), and the
helpers a counting loop uses: ``ticker`` (at most ~20 reports a second, so that counting costs
nothing measurable), ``part`` (one function's count as a share of a larger phase) and
``throttled`` (a phase made of parts still reported at most ~20 times a second)."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

Progress = Callable[[int, int], None]
"""(done, total) of one phase; a phase ends when done reaches total. A phase that cannot count
its work reports (0, 1) when it begins and (1, 1) when it ends: it is shown with the time it
takes, not as a bar standing at 0%."""
Tracker = Callable[[str], Progress]
"""A phase's label → its Progress."""

INTERVAL_S = 0.05
"""The least time between two reports of one loop (its end is always reported)."""


class Ticker:
    """A loop's count of ``total`` steps, reported through ``progress`` at its first step, at
    most every INTERVAL_S after that, and always when ``done`` reaches ``total``."""

    __slots__ = ("due", "progress", "total")

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.total = total
        self.due = 0.0

    def __call__(self, done: int) -> None:
        now = perf_counter()
        if now >= self.due or done >= self.total:
            self.due = now + INTERVAL_S
            self.progress(done, self.total)


def ticker(progress: Progress | None, total: int) -> Ticker | None:
    """The Ticker of a loop of ``total`` steps (None without ``progress``: the loop then tests
    ``is not None`` and pays nothing else)."""
    return None if progress is None else Ticker(progress, max(total, 1))


def throttled(progress: Progress | None) -> Progress | None:
    """``progress`` passed on at its first report, at most every INTERVAL_S after that, and
    whenever ``done`` reaches ``total``."""
    if progress is None:
        return None
    due = 0.0

    def update(done: int, total: int) -> None:
        nonlocal due
        now = perf_counter()
        if now >= due or done >= total:
            due = now + INTERVAL_S
            progress(done, total)

    return update


def part(progress: Progress | None, start: int, size: int, total: int) -> Progress | None:
    """Units ``start`` to ``start + size`` of a phase of ``total`` units: a function's own
    (done, of) reported as (start + done·size/of, total), so that its end is the phase's end only
    where it is the phase's last part."""
    if progress is None:
        return None

    def update(done: int, of: int) -> None:
        progress(start + done * size // max(of, 1), total)

    return update
