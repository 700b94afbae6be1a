"""Plots of ``single`` and ``multi`` (the three gradients side by side) and of ``vanish`` (the
gradient flow per layer with the mean-field prediction; with --steps the training, with
--spectrum the Jacobian's singular values)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from percgrad.reports.phase import SpectrumReport
from percgrad.reports.run import Report
from percgrad.views.plots.figure import positive, pyplot, save_figure


def predicted_deltas(report: Report) -> list[float] | None:
    """‖δ_k‖ as theory predicts it, anchored at the last layer's measured ‖δ_L‖:
    ‖δ_k‖² = ‖δ_L‖²·Π_{j=k}^{L−1} χ_j."""
    if report.theory is None or not report.layers or report.layers[-1].delta_norm <= 0:
        return None
    chi = report.theory.chi
    values = [report.layers[-1].delta_norm]
    for c in reversed(chi):
        values.append(values[-1] * math.sqrt(c) if c > 0 and math.isfinite(c) else math.nan)
    return list(reversed(values))


def _title(report: Report) -> str:
    first = report.runs[0] if report.runs else report
    s = first.settings
    shape = (f"{s['depth']} layers × width {s['width']}" if "depth" in s
             else " → ".join(str(x) for x in [s["inputs"], *s["hidden"], s["outputs"]]))
    if report.compare is not None:
        return f"percgrad {report.command}: {shape}, compared by {report.compare.by}"
    arch = f", {s['arch']}" if s.get("arch", "plain") != "plain" else ""
    verdict = f" — {report.summary.diagnosis}" if report.summary is not None else ""
    return (f"percgrad {report.command}: {shape}, {s['activation']}, init {s['init']} "
            f"(gain {s['gain']:g}){arch}{verdict}")


def _flow_axes(ax: Any, report: Report) -> None:
    """‖∂E/∂W_k‖ and ‖δ_k‖ per layer (log axis), the prediction dashed, integer layer ticks."""
    runs = [(str(r.label or i + 1), r) for i, r in enumerate(report.runs)] or [("", report)]
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for (label, r), colour in zip(runs, colours * 4):
        layers = list(range(1, len(r.layers) + 1))
        tag = f" {label}" if label else ""
        ax.plot(layers, positive([layer.grad_norm for layer in r.layers]), marker="o",
                markersize=3, color=colour, label=f"‖∂E/∂W‖{tag}")
        ax.plot(layers, positive([layer.delta_norm for layer in r.layers]), marker="s",
                markersize=3, linestyle="-", alpha=0.55, color=colour, label=f"‖δ‖{tag}")
        predicted = predicted_deltas(r)
        if predicted is not None:
            ax.plot(layers, positive(predicted), linestyle="--", color=colour,
                    label=f"‖δ‖ predicted (mean field){tag}")
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = input side)")
    ax.set_ylabel("gradient magnitude")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")


def _history_axes(ax_loss: Any, ax_delta: Any, report: Report) -> None:
    """Loss per recorded step, and ‖δ_k‖ over the steps for a few layers."""
    hist = report.history or []
    steps = [h.step for h in hist]
    ax_loss.plot(steps, positive([h.loss for h in hist]), color="black", marker=".")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("SGD step")
    ax_loss.set_ylabel("loss E")
    ax_loss.grid(True, which="both", alpha=0.3)
    depth = len(hist[0].delta_norm) if hist else 0
    picks = sorted({0, depth // 2, depth - 1}) if depth > 3 else list(range(depth))
    for k in picks:
        ax_delta.plot(steps, positive([h.delta_norm[k] for h in hist]), label=f"‖δ_{k + 1}‖")
    ax_delta.set_yscale("log")
    ax_delta.set_xlabel("SGD step")
    ax_delta.set_ylabel("‖δ_k‖")
    ax_delta.grid(True, which="both", alpha=0.3)
    ax_delta.legend(fontsize="small")


def _gradient_bars(ax: Any, report: Report) -> None:
    """Analytic, autograd and numeric side by side: per weight (single) or per layer (multi)."""
    if report.command == "single" and report.layers[0].grad.analytic is not None:
        g = report.layers[0].grad
        names = [f"w{j}" for j in range(report.layers[0].shape[1])]
        series = [("analytic", g.analytic), ("autograd", g.autograd), ("numeric", g.numeric)]
        values = {k: None if v is None else [float(x) for x in np.asarray(v).ravel()]
                  for k, v in series}
        ax.set_ylabel("∂E/∂w_j")
        ax.axhline(0.0, color="grey", linewidth=0.8)
    else:
        names = [layer.name for layer in report.layers]
        values = {
            "analytic": [layer.grad_norm_analytic for layer in report.layers],
            "autograd": [layer.grad_norm for layer in report.layers],
            "numeric": None if any(layer.grad_norm_numeric is None for layer in report.layers)
            else [float(layer.grad_norm_numeric or 0.0) for layer in report.layers],
        }
        ax.set_ylabel("‖∂E/∂W‖ (log)")
        ax.set_yscale("log")
    x = np.arange(len(names))
    width = 0.27
    for i, (name, colour) in enumerate((("analytic", "tab:green"), ("autograd", "tab:blue"),
                                        ("numeric", "tab:orange"))):
        if values.get(name) is not None:
            ax.bar(x + (i - 1) * width, values[name], width, label=name, color=colour)
    ax.set_xticks(x, names)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_xlabel("weight" if report.command == "single" else "layer")


def save_plot(report: Report, path: Path) -> None:
    """A PNG, SVG or PDF of the run: gradient flow per layer with the mean-field prediction
    (vanish; a second row with the loss and ‖δ_k‖ over training with --steps), or the three
    gradients side by side (single, multi)."""
    plt = pyplot()
    if report.command == "vanish" and report.history:
        fig, axes = plt.subplot_mosaic([["flow", "flow"], ["loss", "delta"]], figsize=(9, 7),
                                       layout="constrained")
        _flow_axes(axes["flow"], report)
        _history_axes(axes["loss"], axes["delta"], report)
        ax = axes["flow"]
    elif report.command == "vanish":
        fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
        _flow_axes(ax, report)
    else:
        fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
        _gradient_bars(ax, report)
    ax.set_title(_title(report), fontsize="medium")
    save_figure(fig, plt, path)


def _spectra(report: Report) -> list[SpectrumReport]:
    runs = report.runs or [report]
    return [r.spectrum for r in runs if r.spectrum is not None]


def save_vanish_plot(report: Report, path: Path) -> None:
    """vanish's plot: per-layer ‖∂E/∂W‖ and ‖δ‖, and, with --spectrum, a histogram of the
    Jacobian's singular values beside it (one per compared run)."""
    spectra = _spectra(report)
    if not spectra:
        save_plot(report, path)
        return
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    runs = report.runs or [report]
    for r in runs:
        label = str(r.label or r.settings["activation"])
        layers = list(range(1, len(r.layers) + 1))
        grad = [x.grad_norm if x.grad_norm > 0 else math.nan for x in r.layers]
        delta = [x.delta_norm if x.delta_norm > 0 else math.nan for x in r.layers]
        line = left.plot(layers, grad, marker="o", label=f"‖∂E/∂W‖ {label}")[0]
        left.plot(layers, delta, linestyle="--", color=line.get_color(), label=f"‖δ‖ {label}")
    left.set_yscale("log")
    left.set_xlabel("layer (1 = input side)")
    left.set_ylabel("gradient magnitude")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize="small")
    values = [v for sp in spectra for v in sp.singular_values if v > 0 and math.isfinite(v)]
    lo, hi = min(values), max(values)
    log = hi / lo > 10
    bins = (np.geomspace(lo, hi, 30) if log else
            np.linspace(lo - 1e-6 * max(hi, 1e-300), hi + 1e-6 * max(hi, 1e-300), 30))
    for sp in spectra:
        right.hist([v for v in sp.singular_values if v > 0], bins=bins, alpha=0.6,
                   label=f"{sp.label or sp.init}: var σ² = {sp.var_sq:.3g}")
    if log:
        right.set_xscale("log")
    right.axvline(1.0, color="black", linewidth=1)
    right.set_xlabel("singular value of ∂h_L/∂x (sample 0)")
    right.set_ylabel("count")
    right.legend(fontsize="small")
    s = runs[0].settings
    fig.suptitle(f"percgrad vanish --spectrum: {s['activation']}, depth {s['depth']}, width {s['width']}")
    save_figure(fig, plt, path, dpi=120)
