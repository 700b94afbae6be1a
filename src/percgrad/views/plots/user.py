"""The plots of ``inspect`` (per module gradient magnitudes) and ``check`` (every entry's
numeric difference against autograd): the user's model or function."""

from __future__ import annotations

import math
from pathlib import Path

from percgrad.errors import PercgradError
from percgrad.reports.user import FunctionCheckReport, InspectReport
from percgrad.views.plots.figure import positive, pyplot, save_figure


def save_inspect_plot(report: InspectReport, path: Path) -> None:
    """Per module ‖∂E/∂W‖ and ‖∂E/∂output‖ on a log axis, in forward order."""
    plt = pyplot()
    mods = report.modules
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(mods) + 2), 4.5), layout="constrained")
    xs = list(range(len(mods)))
    ax.plot(xs, positive([m.grad_norm if m.params else None for m in mods]), "o-", label="‖∂E/∂W‖")
    ax.plot(xs, positive([m.output_grad_norm for m in mods]), "s--", label="‖∂E/∂output‖")
    ax.set_yscale("log")
    ax.set_xticks(xs, [m.name for m in mods], rotation=60, ha="right", fontsize="small")
    ax.set_ylabel("gradient magnitude")
    ax.set_title(f"percgrad inspect: {report.target or report.model}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    save_figure(fig, plt, path, dpi=100)


def save_check_plot(report: FunctionCheckReport, path: Path) -> None:
    """Every entry's numeric difference against its autograd value, one series per input."""
    plt = pyplot()
    if not report.values:
        raise PercgradError("the plot needs --check full and inputs of at most 4,096 entries",
                            "--plot")
    fig, ax = plt.subplots(figsize=(5.5, 5.0), layout="constrained")
    lo, hi = math.inf, -math.inf
    for v in report.values:
        a, n = v["analytic"], v["numeric"]
        name = v["name"] if v["output"] is None else f"{v['name']} (output {v['output']})"
        ax.scatter(a, n, s=12, label=name)
        lo, hi = min(lo, *a, *n), max(hi, *a, *n)
    if math.isfinite(lo) and math.isfinite(hi):
        ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8, label="numeric = autograd")
    ax.set_xlabel("autograd ∂(v·f)/∂x")
    ax.set_ylabel("float64 central difference")
    ax.set_title(f"percgrad check: {report.target or report.function}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    save_figure(fig, plt, path, dpi=100)
