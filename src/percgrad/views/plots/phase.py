"""The plot of ``phase``: the measured phase diagram with both critical lines, drawn with
matplotlib (Agg)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from percgrad.reports.phase import PhaseReport
from percgrad.views.plots.figure import pyplot, save_figure

FINE_ROWS = 61
"""σ_b² values the predicted line is drawn through."""


def _edges(values: list[float]) -> np.ndarray:
    """Cell edges around grid values (midpoints, the ends extended by half a step)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        half = 0.5 * max(abs(v[0]), 0.1)
        return np.array([v[0] - half, v[0] + half])
    mid = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def predicted_line(activation: str, sigma_b2: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(σ_b², critical σ_w²) on a fine grid over the range of ``sigma_b2``."""
    from percgrad.theory.phase import critical_sigma_w2

    lo, hi = min(sigma_b2), max(sigma_b2)
    rows = np.linspace(lo, hi, FINE_ROWS) if hi > lo else np.array([lo])
    crit = [critical_sigma_w2(activation, float(b)) for b in rows]
    return rows, np.array([math.nan if c is None else c for c in crit])


def save_phase_plot(report: PhaseReport, path: Path) -> None:
    """The measured factor per layer in dB as coloured cells (σ_w² across, σ_b² up), the
    predicted edge of chaos as a line and the measured one as markers."""
    plt = pyplot()
    s = report.settings
    cols, rows = len(report.sigma_w2), len(report.sigma_b2)
    db = np.full((rows, cols), np.nan)
    for i_b in range(rows):
        for i_w in range(cols):
            f = report.point(i_b, i_w).measured_factor
            if f is not None and f > 0:
                db[i_b, i_w] = 10 * math.log10(f)
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    finite = db[np.isfinite(db)]
    bound = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    mesh = ax.pcolormesh(_edges(report.sigma_w2), _edges(report.sigma_b2), db, cmap="RdBu_r",
                         vmin=-bound, vmax=bound, shading="flat")
    fig.colorbar(mesh, ax=ax, label="measured ‖δ_k‖²/‖δ_k+1‖² per layer, 10·log₁₀ (dB)")
    b_fine, w_fine = predicted_line(s["activation"], report.sigma_b2)
    ax.plot(w_fine, b_fine, color="black", linewidth=2, label="predicted edge of chaos, χ₁ = 1")
    mb = [c.sigma_b2 for c in report.critical if c.measured is not None]
    mw = [c.measured for c in report.critical if c.measured is not None]
    if mw:
        ax.plot(mw, mb, linestyle="--", marker="o", color="gold", markeredgecolor="black",
                label="measured (factor crosses 1)")
    ax.set_xlim(_edges(report.sigma_w2)[0], _edges(report.sigma_w2)[-1])
    ax.set_ylim(_edges(report.sigma_b2)[0], _edges(report.sigma_b2)[-1])
    ax.set_xlabel("σ_w²  (W ~ N(0, σ_w²/N))")
    ax.set_ylabel("σ_b²  (b ~ N(0, σ_b²))")
    a, b = report.window
    ax.set_title(f"percgrad phase: {s['activation']}, depth {s['depth']}, width {s['width']} "
                 f"(factor over layers {a}–{b})")
    ax.legend(loc="upper left", fontsize="small")
    save_figure(fig, plt, path, dpi=120)
