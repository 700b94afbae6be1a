"""Plots of ``single`` and ``multi``: the three gradients side by side, as bars from 0 on a
linear axis, or as points on a log axis where the values span more than a factor ``LOG_SPAN``;
and the entry points of ``--plot`` for every run (vanish's figures are in vanish.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from percgrad.reports.run import Report
from percgrad.views.plots import verdicts
from percgrad.views.plots.figure import (
    GRID,
    banner,
    colours,
    legend_right,
    pyplot,
    save_figure,
    title,
    tone,
    verdict_box,
)
from percgrad.views.plots.vanish import describe, draw_vanish

SOURCES = ("analytic", "autograd", "numeric")
"""The three gradients, a colour each."""
LOG_SPAN = 100.0
"""Norms spanning more than this factor go on a log axis, drawn as points (a bar's height on a
log axis depends on where its axis starts)."""
MARKERS = ("o", "D", "s")


def _series(report: Report) -> tuple[list[str], dict[str, list[float] | None]]:
    """The names along the x axis and each source's values: per weight (single) or per layer's
    ‖∂E/∂W‖ (multi)."""
    first = report.layers[0]
    if report.command == "single" and first.grad.analytic is not None:
        names = [f"$w_{{{j}}}$" for j in range(first.shape[1])]
        g = first.grad
        raw = {"analytic": g.analytic, "autograd": g.autograd, "numeric": g.numeric}
        return names, {k: None if v is None else [float(x) for x in np.asarray(v).ravel()]
                       for k, v in raw.items()}
    names = [f"$W_{{{k + 1}}}$" for k in range(len(report.layers))]
    numeric = [layer.grad_norm_numeric for layer in report.layers]
    return names, {
        "analytic": [layer.grad_norm_analytic for layer in report.layers],
        "autograd": [layer.grad_norm for layer in report.layers],
        "numeric": None if any(v is None for v in numeric) else [float(v or 0.0) for v in numeric],
    }


def needs_log(values: list[float]) -> bool:
    """True when the values are all positive and span more than LOG_SPAN (bars from 0 would
    hide the small ones); a 0 keeps the linear axis, which can show it."""
    finite = [v for v in values if math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > LOG_SPAN


def gradient_axes(ax: Any, report: Report) -> None:
    """Analytic, autograd and numeric side by side, a colour each: bars from 0 on a linear axis,
    or points on a log axis when the norms span more than LOG_SPAN."""
    names, values = _series(report)
    single = report.command == "single"
    x = np.arange(len(names))
    width = 0.27
    shown = [v for vals in values.values() if vals is not None for v in vals]
    log = not single and needs_log(shown)
    for i, (name, colour) in enumerate(zip(SOURCES, colours(len(SOURCES)))):
        vals = values.get(name)
        if vals is None:
            continue
        if log:
            ax.plot(x + (i - 1) * width, vals, MARKERS[i], color=colour, markersize=7,
                    linestyle="none", label=name)
        else:
            ax.bar(x + (i - 1) * width, vals, width, label=name, color=colour)
    if log:
        ax.set_yscale("log")
    else:
        ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(x, names)
    ax.grid(True, axis="y", which="both", **GRID)
    ax.set_xlabel("weight $w_j$" if single else "layer $k$")
    ax.set_ylabel(r"$\partial E/\partial w_j$" if single else
                  r"$\Vert\partial E/\partial W_k\Vert$" + (" (log axis)" if log else ""))
    legend_right(ax)


def draw_gradients(report: Report) -> Any:
    """The figure of single or multi: the three gradients, the check's verdict above."""
    plt = pyplot()
    fig, axes = banner(plt, [["bars"]], (9, 5.2))
    gradient_axes(axes["bars"], report)
    words, lines = verdicts.run_lines(report)
    verdict_box(axes["verdict"], lines, tone(words))
    title(fig, describe(report))
    return fig


def draw_plot(report: Report) -> Any:
    """The figure of any run of single, multi or vanish."""
    return draw_vanish(report) if report.command == "vanish" else draw_gradients(report)


def save_plot(report: Report, path: Path) -> None:
    """A PNG, SVG or PDF of the run: gradient flow per layer with the mean-field prediction
    (vanish, with the training or the spectrum when run), or the three gradients side by side
    (single, multi)."""
    save_figure(draw_plot(report), pyplot(), path, dpi=110)


def save_vanish_plot(report: Report, path: Path) -> None:
    """vanish's plot (save_plot's, kept as the name the vanish command calls)."""
    save_plot(report, path)
