"""Rendering a report as Rich records it (``export_text``), for the tests that read what
``inspect`` and ``check`` show. golden_util.render is the CLI's own rendering, for golden files."""

from __future__ import annotations

import io

from rich.console import Console


def render(report: object, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, highlight=False)
    console.print(report)
    return console.export_text()
