"""The progress callbacks an engine reports through (no Rich: the views draw them)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""(done, total) of one phase."""
Tracker = Callable[[str], Progress]
"""A phase's label → its Progress."""
