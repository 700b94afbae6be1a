"""The plots of ``vanish``: ‖∂E/∂W_k‖ and ‖δ_k‖ per layer with the mean-field prediction (one
run, or side by side per compared run), with --steps the training, with --spectrum the
Jacobian's singular values; the verdict in a box above."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from percgrad.reports.phase import SpectrumReport
from percgrad.reports.run import Report
from percgrad.views.plots import verdicts
from percgrad.views.plots.figure import (
    GRID,
    LEGEND_RIGHT,
    MEASURED,
    PREDICTED,
    REFERENCE,
    banner,
    colours,
    legend_right,
    positive,
    pyplot,
    title,
    tone,
    verdict_box,
)

GRAD = r"$\Vert\partial E/\partial W_k\Vert$"
DELTA = r"$\Vert\delta_k\Vert$"
FEW_VALUES = 8
"""Singular values below which each is drawn as a stem rather than binned."""


def predicted_deltas(report: Report) -> list[float] | None:
    """‖δ_k‖ as theory predicts it, anchored at the last layer's measured ‖δ_L‖:
    ‖δ_k‖² = ‖δ_L‖²·Π_{j=k}^{L−1} χ_j."""
    if report.theory is None or not report.layers or report.layers[-1].delta_norm <= 0:
        return None
    values = [report.layers[-1].delta_norm]
    for c in reversed(report.theory.chi):
        values.append(values[-1] * math.sqrt(c) if c > 0 and math.isfinite(c) else math.nan)
    return list(reversed(values))


def describe(report: Report) -> str:
    """The figure's title: the chain and what it was run with (or compared by)."""
    first = report.runs[0] if report.runs else report
    s = first.settings
    shape = (f"{s['depth']} layers × width {s['width']}" if "depth" in s
             else " → ".join(str(x) for x in [s["inputs"], *s["hidden"], s["outputs"]]))
    if report.compare is not None:
        return f"percgrad {report.command}: {shape}, compared by {report.compare.by}"
    arch = f", {s['arch']}" if s.get("arch", "plain") != "plain" else ""
    return (f"percgrad {report.command}: {shape}, {s['activation']}, init {s['init']} "
            f"(gain {s['gain']:g}){arch}")


def _layers_axis(ax: Any) -> None:
    ax.set_yscale("log")
    ax.set_xlabel("layer $k$ (1 = input side)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, which="both", **GRID)


def _drawable(values: list[float]) -> bool:
    return any(not math.isnan(v) for v in values)


def _same(a: list[float], b: list[float]) -> bool:
    """Two runs' values alike to 1e-9 (their lines would hide one another)."""
    return len(a) == len(b) and bool(np.allclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True))


def flow_axes(ax: Any, report: Report) -> None:
    """One run: ‖∂E/∂W_k‖ and ‖δ_k‖ measured (solid, one colour each), ‖δ_k‖ predicted by
    mean-field theory (dashed, the colour of the ‖δ_k‖ it predicts)."""
    grad_colour, delta_colour = colours(2)
    layers = list(range(1, len(report.layers) + 1))
    ax.plot(layers, positive([x.grad_norm for x in report.layers]), MEASURED, marker="o",
            markersize=3, color=grad_colour, label=f"{GRAD} measured")
    ax.plot(layers, positive([x.delta_norm for x in report.layers]), MEASURED, marker="s",
            markersize=3, color=delta_colour, label=f"{DELTA} measured")
    predicted = predicted_deltas(report)
    if predicted is not None:
        ax.plot(layers, positive(predicted), PREDICTED, color=delta_colour,
                label=f"{DELTA} predicted (mean field)")
    _layers_axis(ax)
    ax.set_ylabel("gradient magnitude")
    legend_right(ax)


def _history_axes(ax_loss: Any, ax_delta: Any, report: Report) -> None:
    """Loss per recorded step, and ‖δ_k‖ over the steps for a few layers (a colour each)."""
    hist = report.history or []
    steps = [h.step for h in hist]
    ax_loss.plot(steps, positive([h.loss for h in hist]), MEASURED, color="black", marker=".",
                 label="loss $E$")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("SGD step")
    ax_loss.set_ylabel("loss $E$")
    ax_loss.grid(True, which="both", **GRID)
    depth = len(hist[0].delta_norm) if hist else 0
    picks = sorted({0, depth // 2, depth - 1}) if depth > 3 else list(range(depth))
    for k, colour in zip(picks, colours(len(picks))):
        ax_delta.plot(steps, positive([h.delta_norm[k] for h in hist]), MEASURED, color=colour,
                      label=rf"$\Vert\delta_{{{k + 1}}}\Vert$")
    ax_delta.set_yscale("log")
    ax_delta.set_xlabel("SGD step")
    ax_delta.set_ylabel(DELTA)
    ax_delta.grid(True, which="both", **GRID)
    legend_right(ax_delta)


def _compare_axes(grad_ax: Any, delta_ax: Any, report: Report) -> None:
    """One colour per compared run: ‖∂E/∂W_k‖ on the left, ‖δ_k‖ measured (solid) and
    predicted (dashed) on the right; a run with nothing positive is named as not drawn."""
    from matplotlib.lines import Line2D

    handles = []
    drawn: list[tuple[str, list[float]]] = []
    for r, colour in zip(report.runs, colours(len(report.runs))):
        layers = list(range(1, len(r.layers) + 1))
        grad = positive([x.grad_norm for x in r.layers])
        delta = positive([x.delta_norm for x in r.layers])
        twin = next((name for name, seen in drawn if _same(seen, grad + delta)), None)
        drawn.append((str(r.label), grad + delta))
        grad_ax.plot(layers, grad, MEASURED, marker="o", markersize=3, color=colour,
                     label=str(r.label))
        delta_ax.plot(layers, delta, MEASURED, marker="s", markersize=3, color=colour,
                      label=str(r.label))
        predicted = predicted_deltas(r)
        if predicted is not None:
            delta_ax.plot(layers, positive(predicted), PREDICTED, color=colour,
                          label=f"{r.label} predicted")
        word = f" ({verdicts.word(r.summary.diagnosis)})" if r.summary is not None else ""
        gone = "" if twin is None else f" = {twin}, hidden under it"
        if not (_drawable(grad) or _drawable(delta)):
            gone = ": every value 0, not drawn"
        handles.append(Line2D([], [], color=colour, linestyle=MEASURED, linewidth=3,
                              label=f"{r.label}{word}{gone}"))
    handles += [Line2D([], [], color="grey", linestyle=MEASURED, label="measured"),
                Line2D([], [], color="grey", linestyle=PREDICTED,
                       label="predicted (mean field)")]
    for ax, label in ((grad_ax, GRAD), (delta_ax, DELTA)):
        _layers_axis(ax)
        ax.set_ylabel(label)
    delta_ax.legend(handles=handles, title=report.compare.by if report.compare else None,
                    title_fontsize="small", **LEGEND_RIGHT)


def _verdict(ax: Any, report: Report) -> None:
    """The box above ``ax``: one run's flow and check, or one line per compared run."""
    if report.runs:
        words, lines = [], []
        for r in report.runs:
            w, run = verdicts.run_lines(r)
            words += w
            lines.append(f"{r.label}: " + " · ".join(run))
    else:
        words, lines = verdicts.run_lines(report)
    verdict_box(ax, lines, tone(words))


def _spectrum_axes(ax: Any, spectra: list[SpectrumReport]) -> None:
    """The singular values of ∂h_L/∂x per run: a histogram (a stem per value when there are
    few), theory's RMS dashed where it has one, σ = 1 (isometry) dotted."""
    good = [[v for v in sp.singular_values if v > 0 and math.isfinite(v)] for sp in spectra]
    values = [v for g in good for v in g]
    lo, hi = (min(values), max(values)) if values else (1.0, 1.0)
    log = max(hi, 1.0) / min(lo, 1.0) > 10
    few = max((len(g) for g in good), default=0) < FEW_VALUES
    if log:
        pad = max(0.0, 0.25 - math.log10(hi / lo)) / 2
        bins: Any = np.geomspace(lo / 10**pad, hi * 10**pad, 30)
    else:
        margin = max(0.05 * (hi - lo), 0.01 * max(hi, 1e-300))
        bins = np.linspace(lo - margin, hi + margin, 30)
    for sp, vals, colour in zip(spectra, good, colours(len(spectra))):
        name = sp.label or sp.init
        label = rf"{name}: var $\sigma^2$ = {sp.var_sq:.3g}" + (" (none > 0)" if not vals else "")
        if few:
            ax.vlines(vals, 0, 1, color=colour, linewidth=2, label=label)
            ax.plot(vals, [1] * len(vals), "o", color=colour)
        else:
            ax.hist(vals, bins=bins, histtype="stepfilled", alpha=0.35, color=colour,
                    edgecolor=colour, linewidth=1.2, label=label)
        if sp.predicted_mean is not None and sp.predicted_mean > 0:
            ax.axvline(math.sqrt(sp.predicted_mean), color=colour, linestyle=PREDICTED,
                       label=rf"{name}: predicted RMS $\sigma$")
    if log:
        ax.set_xscale("log")
    ax.axvline(1.0, color="black", linestyle=REFERENCE, linewidth=1.2,
               label=r"$\sigma = 1$ (isometry)")
    ax.set_xlabel(r"singular value $\sigma$ of $\partial h_L/\partial x$ (sample 0)")
    ax.set_ylabel("count")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(bottom=0)
    ax.grid(True, **GRID)
    legend_right(ax)


def draw_vanish(report: Report) -> Any:
    """The figure of a vanish run: flow per layer (one panel, or two for a comparison), a row
    of training with --steps, the spectrum with --spectrum; the verdict in a box above all."""
    plt = pyplot()
    runs = report.runs or [report]
    spectra = [r.spectrum for r in runs if r.spectrum is not None]
    layout = [["grad", "delta"] if report.runs else ["flow", "flow"]]
    if report.history and not report.runs:
        layout.append(["loss", "delta"])
    if spectra:
        layout.append(["spectrum", "spectrum"])
    fig, axes = banner(plt, layout, (11, 1.0 + 3.8 * len(layout)))
    if report.runs:
        _compare_axes(axes["grad"], axes["delta"], report)
    else:
        flow_axes(axes["flow"], report)
        if report.history:
            _history_axes(axes["loss"], axes["delta"], report)
    if spectra:
        _spectrum_axes(axes["spectrum"], spectra)
    _verdict(axes["verdict"], report)
    title(fig, describe(report) + (" · --spectrum" if spectra else ""))
    return fig
