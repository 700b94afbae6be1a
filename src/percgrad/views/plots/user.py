"""The plots of ``inspect`` (per module gradient magnitudes) and ``check`` (every entry's
numeric difference against autograd): the user's model or function, the verdict above."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from percgrad.errors import PercgradError
from percgrad.reports.user import FunctionCheckReport, InspectReport
from percgrad.views.plots import verdicts
from percgrad.views.plots.figure import (
    GRID,
    MEASURED,
    REFERENCE,
    banner,
    colours,
    legend_right,
    positive,
    pyplot,
    save_figure,
    title,
    tone,
    verdict_box,
)


def draw_inspect(report: InspectReport) -> Any:
    """Per module ‖∂E/∂W‖ (modules with parameters) and ‖∂E/∂output‖ on a log axis, in forward
    order, both measured (solid, a colour each); the diagnosis and the check above."""
    plt = pyplot()
    mods = report.modules
    fig, axes = banner(plt, [["grads"]], (max(8.0, 0.42 * len(mods) + 4.5), 5.4))
    ax = axes["grads"]
    weights, outputs = colours(2)
    held = [i for i, m in enumerate(mods) if m.params]
    ax.plot(held, positive([mods[i].grad_norm for i in held]), MEASURED, marker="o",
            color=weights, label=r"$\Vert\partial E/\partial W\Vert$ (its parameters)")
    ax.plot(range(len(mods)), positive([m.output_grad_norm for m in mods]), MEASURED, marker="s",
            markersize=4, color=outputs, label=r"$\Vert\partial E/\partial\,\mathrm{output}\Vert$")
    ax.set_yscale("log")
    ax.set_xticks(range(len(mods)), [m.name for m in mods], rotation=60, ha="right",
                  fontsize="small")
    ax.set_xlabel("module (forward order)")
    ax.set_ylabel("gradient magnitude")
    ax.grid(True, which="both", **GRID)
    legend_right(ax)
    words, flow = verdicts.diagnosis(report.diagnosis)
    checked, line = verdicts.user_check(report.check)
    verdict_box(axes["verdict"], [flow, line], tone([*words, checked]))
    title(fig, f"percgrad inspect: {report.target or report.model}")
    return fig


def save_inspect_plot(report: InspectReport, path: Path) -> None:
    """The plot of inspect (draw_inspect) as a PNG, SVG or PDF."""
    save_figure(draw_inspect(report), pyplot(), path, dpi=100)


def draw_check(report: FunctionCheckReport) -> Any:
    """Every entry's float64 central difference against its autograd value, a colour per input,
    y = x dotted; the worst entry named when the check fails; the verdict above."""
    plt = pyplot()
    if not report.values:
        raise PercgradError("the plot needs --check full and inputs of at most 4,096 entries",
                            "--plot")
    fig, axes = banner(plt, [["scatter"]], (8.0, 6.0))
    ax = axes["scatter"]
    lo, hi = math.inf, -math.inf
    for v, colour in zip(report.values, colours(len(report.values))):
        a, n = v["analytic"], v["numeric"]
        name = v["name"] if v["output"] is None else f"{v['name']} (output {v['output']})"
        ax.scatter(a, n, s=14, color=colour, label=name, zorder=3)
        lo, hi = min(lo, *a, *n), max(hi, *a, *n)
    if math.isfinite(lo) and math.isfinite(hi):
        ax.plot([lo, hi], [lo, hi], REFERENCE, color="black", linewidth=1,
                label="numeric = autograd", zorder=2)
    worst = report.check.worst
    if report.check.passed is False and worst is not None and worst.worst is not None:
        e = worst.worst
        ax.annotate(e.name, (e.analytic, e.numeric), xytext=(8, -4), textcoords="offset points",
                    fontsize="small", va="top")
    ax.set_xlabel(r"autograd $\partial(v\cdot f)/\partial x$  ($v$: a random cotangent)")
    ax.set_ylabel(r"float64 central difference of $v\cdot f$")
    ax.grid(True, **GRID)
    legend_right(ax)
    checked, line = verdicts.user_check(report.check)
    verdict_box(axes["verdict"], [line], tone([checked]))
    title(fig, f"percgrad check: {report.target or report.function}")
    return fig


def save_check_plot(report: FunctionCheckReport, path: Path) -> None:
    """The plot of check (draw_check) as a PNG, SVG or PDF."""
    save_figure(draw_check(report), pyplot(), path, dpi=100)
