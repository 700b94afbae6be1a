"""The progress callbacks an engine reports through (no Rich: the views draw them)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""(done, total) of one phase; a phase ends when done reaches total. A phase that cannot count
its work reports (0, 1) when it begins and (1, 1) when it ends: it is shown with the time it
takes, not as a bar standing at 0%."""
Tracker = Callable[[str], Progress]
"""A phase's label → its Progress."""
