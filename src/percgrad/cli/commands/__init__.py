"""One module per command: each declares its options and calls the Python API."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from percgrad.reports.run import Report
    from percgrad.spec.run import Spec


def compute_one(spec: Spec, interactive: bool) -> Report:
    """Run one network (single, multi) under the progress display."""
    from percgrad.api import run_one
    from percgrad.views.progress import phases

    with phases(interactive) as track:
        return run_one(spec, track)
