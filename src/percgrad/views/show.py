"""Report → renderables: the one table that says which view shows which report."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console, Group

from percgrad.reports.phase import PhaseReport
from percgrad.reports.run import Report
from percgrad.reports.user import FunctionCheckReport, InspectReport
from percgrad.reports.watch import WatchReport
from percgrad.views import check, inspect, perceptron, phase, vanish, watch

RUN_VIEWS: dict[str, Callable[[Report], Sequence[Any]]] = {
    "single": perceptron.single,
    "multi": perceptron.multi,
    "vanish": vanish.vanish,
}
"""The view of each command whose report is a Report."""


def parts(report: Any) -> list[Any]:
    """What the CLI prints for ``report``, as a list of renderables."""
    if isinstance(report, Report):
        return list(RUN_VIEWS[report.command](report))
    if isinstance(report, InspectReport):
        return [inspect.inspect_renderables(report)]
    if isinstance(report, FunctionCheckReport):
        return [check.check_renderables(report)]
    if isinstance(report, PhaseReport):
        return list(phase.phase(report))
    if isinstance(report, WatchReport):
        return [watch.watch_renderables(report)]
    raise TypeError(f"no view shows a {type(report).__name__}")


def renderables(report: Any) -> Group:
    """Everything the CLI prints for ``report``, as one renderable."""
    return Group(*parts(report))


def to_html(report: Any, width: int = 120) -> str:
    """The same as HTML (a notebook cell's display), rendered at ``width`` columns."""
    console = Console(record=True, width=width, file=io.StringIO(), highlight=False)
    console.print(renderables(report))
    return console.export_html(inline_styles=True)
