"""The plot of ``watch``: a module × step heatmap of log10 ‖∂E/∂W‖ with the verdict steps marked,
the loss and the update ratios over the watched steps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from percgrad.errors import PercgradError
from percgrad.reports.watch import WatchReport
from percgrad.reports.watch_sentences import TITLES, every_text
from percgrad.views.plots.figure import (
    ABOVE,
    GRID,
    MEASURED,
    OKABE_ITO,
    REFERENCE,
    positive,
    pyplot,
    save_figure,
    title,
)

USUAL_RATIO = 1e-3
MAX_LABELS = 40
"""Module names on the y axis at most (every k-th beyond)."""
VERDICT_COLOURS = {"non-finite": OKABE_ITO[3], "exploding": OKABE_ITO[4],
                   "update-high": OKABE_ITO[1], "vanishing": OKABE_ITO[0], "dead": OKABE_ITO[6],
                   "update-low": OKABE_ITO[2]}
"""A colour-blind-safe colour per kind of verdict, no two alike."""
VERDICT_DASHES: dict[str, Any] = {
    "non-finite": (0, (1, 1)), "exploding": (0, (1, 4)), "vanishing": (1, (1, 4)),
    "update-high": (2, (1, 4)), "update-low": (3, (1, 4)), "dead": (4, (1, 4))}
"""Dotted, as every reference mark is (figure.REFERENCE): the dots offset so that verdicts at
one step show each colour in turn; non-finite densely dotted."""
MEDIAN, LOSS = OKABE_ITO[0], "black"

def _log10(v: float | None) -> float:
    return math.log10(v) if v is not None and v > 0 and math.isfinite(v) else math.nan


def _median(values: Sequence[float]) -> float:
    good = sorted(v for v in values if not math.isnan(v))
    if not good:
        return math.nan
    mid = len(good) // 2
    return good[mid] if len(good) % 2 else (good[mid - 1] + good[mid]) / 2


def _edges(steps: Sequence[int]) -> list[float]:
    """Cell edges around each watched step (halfway to its neighbours)."""
    if len(steps) == 1:
        return [steps[0] - 0.5, steps[0] + 0.5]
    mids = [(a + b) / 2 for a, b in pairwise(steps)]
    return [steps[0] - (mids[0] - steps[0]), *mids, steps[-1] + (steps[-1] - mids[-1])]


def _verdict_marks(report: WatchReport, axes: Sequence[Any]) -> None:
    """A vertical line at every verdict's step in every panel, coloured by its kind, and a
    legend above the first panel that names each kind and its steps."""
    from matplotlib.lines import Line2D

    kinds: dict[str, list[int]] = {}
    for v in report.verdicts:
        kinds.setdefault(v.kind, []).append(v.step)
    handles = []
    for kind, at in kinds.items():
        colour = VERDICT_COLOURS.get(kind, "black")
        dashes = VERDICT_DASHES.get(kind, REFERENCE)
        for step in dict.fromkeys(at):
            for ax in axes:
                ax.axvline(step, color=colour, linewidth=1.4, linestyle=dashes, alpha=0.9)
        steps = ", ".join(str(s) for s in dict.fromkeys(at))
        handles.append(Line2D([], [], color=colour, linestyle=dashes,
                              label=f"{TITLES.get(kind, kind)} (step {steps})"))
    if handles:
        axes[0].legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0),
                       ncols=min(3, len(handles)), fontsize="small", frameon=False,
                       borderaxespad=0.2, title="verdicts", title_fontsize="small",
                       alignment="left")


def save_watch_plot(report: WatchReport, path: Path) -> None:
    """The plot of watch (draw_watch) as a PNG, SVG or PDF."""
    save_figure(draw_watch(report), pyplot(), path, dpi=100)


def draw_watch(report: WatchReport) -> Any:
    """Heatmap of log10 ‖∂E/∂W‖ (modules in forward order × watched steps), verdict steps marked,
    the loss and the update ratios ‖ΔW‖/‖W‖ (median and range over the modules)."""
    steps = report.steps
    mods = report.modules
    if not steps or not mods:
        raise PercgradError("nothing to plot: no step of a module with parameters was watched",
                            "--plot")
    plt = pyplot()
    import numpy as np

    n = len(steps)
    grid = np.array([[_log10(m.grad_norm[k] if k < len(m.grad_norm) else None)
                      for k in range(n)] for m in mods])
    heat_h, panel_h = min(9.0, max(3.2, 1.4 + 0.16 * len(mods))), 1.9
    fig, (heat, loss, ratio) = plt.subplots(
        3, 1, figsize=(9.0, heat_h + 2 * panel_h + 1.0), sharex=True, layout="constrained",
        gridspec_kw={"height_ratios": [heat_h, panel_h, panel_h]})
    cmap = plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
    mesh = heat.pcolormesh(_edges(steps), np.arange(len(mods) + 1) - 0.5,
                           np.ma.masked_invalid(grid), cmap=cmap, shading="flat")
    heat.set_ylim(len(mods) - 0.5, -0.5)  # forward order from the top
    every = max(1, math.ceil(len(mods) / MAX_LABELS))
    ticks = list(range(0, len(mods), every))
    heat.set_yticks(ticks, [f"{mods[i].name} ({mods[i].type})" for i in ticks],
                    fontsize="small" if len(mods) <= 20 else "x-small")
    heat.set_ylabel("module (forward order)")
    bar = fig.colorbar(mesh, ax=heat, pad=0.01, fraction=0.04, aspect=6 * heat_h)
    bar.set_label(r"$\log_{10}\,\Vert\partial E/\partial W\Vert$")
    gone = int(np.isnan(grid).sum())
    title(fig, f"percgrad watch: {report.target or ', '.join(report.models)}"
               + (f"  (grey: no finite, non-zero gradient, {gone} cell(s))" if gone else ""))

    values = positive(report.loss)
    finite = [v for v in values if not math.isnan(v)]
    loss.plot(steps, values, MEASURED, marker=".", color=LOSS, linewidth=1, markersize=3)
    if finite and len(finite) == sum(v is not None and math.isfinite(v) for v in report.loss) \
            and max(finite) > 10 * min(finite):  # log where it spans a decade, all positive
        loss.set_yscale("log")
    bad = [s for s, v in zip(steps, report.loss) if v is None or not math.isfinite(v)]
    if bad and finite:
        loss.plot(bad, [max(finite)] * len(bad), "x", color=VERDICT_COLOURS["non-finite"],
                  label="not finite")
        loss.legend(fontsize="small", **ABOVE)
    loss.set_ylabel(r"loss $E$")
    loss.grid(True, which="both", **GRID)

    logs = [[_log10(m.update_ratio[k] if k < len(m.update_ratio) else None) for m in mods]
            for k in range(n)]
    med = [10 ** _median(row) for row in logs]
    low = [10 ** min((v for v in row if not math.isnan(v)), default=math.nan) for row in logs]
    high = [10 ** max((v for v in row if not math.isnan(v)), default=math.nan) for row in logs]
    ratio.fill_between(steps, low, high, color=MEDIAN, alpha=0.25, linewidth=0,
                       label="range over the modules")
    ratio.plot(steps, med, MEASURED, marker=".", color=MEDIAN, linewidth=1, markersize=3, label="median")
    ratio.axhline(USUAL_RATIO, color="grey", linestyle=REFERENCE, linewidth=1,
                  label=r"usual $\sim 10^{-3}$")
    ratio.set_yscale("log")
    ratio.set_ylabel(r"$\Vert\Delta W\Vert/\Vert W\Vert$")
    ratio.set_xlabel("optimizer step" + (f" ({every_text(report.every)} watched)"
                                         if report.every > 1 else ""))
    ratio.grid(True, which="both", **GRID)
    ratio.legend(fontsize="small", ncols=3, **ABOVE)
    _verdict_marks(report, (heat, loss, ratio))
    return fig
