"""The plot of ``phase``: the measured phase diagram, the predicted critical line dashed and
the measured one solid, drawn with matplotlib (Agg)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from percgrad.reports.phase import PhaseReport
from percgrad.views.plots.figure import MEASURED, OKABE_ITO, PREDICTED, pyplot, save_figure, title

FINE_ROWS = 61
"""σ_b² values the predicted line is drawn through."""
MEASURED_EDGE = OKABE_ITO[2]
"""The measured edge: Okabe–Ito's bluish green, clear on both ends of the red–blue map."""


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


def draw_phase(report: PhaseReport) -> Any:
    """The measured factor per layer in dB as coloured cells (σ_w² across, σ_b² up), the
    predicted edge of chaos dashed and the measured one solid, the legend below the axes."""
    plt = pyplot()
    s = report.settings
    cols, rows = len(report.sigma_w2), len(report.sigma_b2)
    db = np.full((rows, cols), np.nan)
    for i_b in range(rows):
        for i_w in range(cols):
            f = report.point(i_b, i_w).measured_factor
            if f is not None and f > 0:
                db[i_b, i_w] = 10 * math.log10(f)
    fig, ax = plt.subplots(figsize=(8, 5.6), layout="constrained")
    finite = db[np.isfinite(db)]
    bound = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    mesh = ax.pcolormesh(_edges(report.sigma_w2), _edges(report.sigma_b2), db, cmap="RdBu_r",
                         vmin=-bound, vmax=bound, shading="flat")
    fig.colorbar(mesh, ax=ax, label=r"measured $\Vert\delta_k\Vert^2/\Vert\delta_{k+1}\Vert^2$"
                 r" per layer, $10\,\log_{10}$ (dB)")
    b_fine, w_fine = predicted_line(s["activation"], report.sigma_b2)
    ax.plot(w_fine, b_fine, PREDICTED, color="black", linewidth=2,
            label=r"predicted edge of chaos, $\chi_1 = 1$ (mean field)")
    mb = [c.sigma_b2 for c in report.critical if c.measured is not None]
    mw = [c.measured for c in report.critical if c.measured is not None]
    if mw:
        ax.plot(mw, mb, MEASURED, marker="o", color=MEASURED_EDGE, markeredgecolor="black",
                linewidth=2, label="measured edge (the factor crosses 1)")
    ax.set_xlim(_edges(report.sigma_w2)[0], _edges(report.sigma_w2)[-1])
    ax.set_ylim(_edges(report.sigma_b2)[0], _edges(report.sigma_b2)[-1])
    ax.set_xlabel(r"$\sigma_w^2$  ($W \sim \mathcal{N}(0,\ \sigma_w^2/N)$)")
    ax.set_ylabel(r"$\sigma_b^2$  ($b \sim \mathcal{N}(0,\ \sigma_b^2)$)")
    a, b = report.window
    title(fig, f"percgrad phase: {s['activation']}, depth {s['depth']}, width {s['width']} "
               f"(factor over layers {a}–{b})")
    fig.legend(loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    return fig


def save_phase_plot(report: PhaseReport, path: Path) -> None:
    """The phase diagram (draw_phase) as a PNG, SVG or PDF."""
    save_figure(draw_phase(report), pyplot(), path, dpi=120)
