"""play's numbers, computed off the UI thread: first the bars (the chain's run and its theory,
the part of ``vanish`` that takes a few milliseconds), then the whole ``vanish`` report (its
verdict, tried advice and check); the phase plane of an activation; the critical σ_w².

No Textual here: the app calls these from its workers and passes a Tracker, through which a
stale computation is cancelled (``Cancelled`` is raised at the engine's next progress call)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from percgrad.api import run_chain
from percgrad.play.state import SIGMA_B2, Settings, vanish_options
from percgrad.reports.run import Report
from percgrad.runtime.progress import Progress, Tracker
from percgrad.spec.build import chain_spec
from percgrad.theory.phase import chi1, critical_sigma_w2

PLANE_SIGMA_W2 = (0.0, 4.0)
"""The plane's σ_w² axis: every usual activation's critical line lies in it."""
PLANE_SIGMA_B2 = tuple(b for b in SIGMA_B2 if b <= 0.5)
"""The plane's rows: the σ_b² a key can reach (so that the chain's own row is exact)."""
PLANE_COLUMNS = 32
"""Grid points of a row (shown resampled to the panel's width)."""
PLANE_ROWS = len(PLANE_SIGMA_B2)


class Cancelled(Exception):
    """A newer key made this computation stale."""


@dataclass
class Frame:
    """What one screen shows: the run's report (a preview, before the verdict, or whole) and
    theory's σ_w², σ_b² and χ̄ for the chain."""

    settings: Settings
    report: Report
    sigma_w2: float
    sigma_b2: float
    mean_chi: float | None
    final: bool


def leave_a_core() -> int:
    """At most one torch thread fewer than the cores, so that the screen always has one (two
    threads on two busy cores spin against each other: a key's bars then take seconds)."""
    import os

    import torch

    threads = max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - 1))
    torch.set_num_threads(threads)
    return threads


def tracker(cancelled: Callable[[], bool], said: Callable[[str, int, int], None]) -> Tracker:
    """A Tracker that reports each phase to ``said`` and raises Cancelled once ``cancelled()``."""

    def track(label: str) -> Progress:
        if cancelled():
            raise Cancelled
        said(label, 0, 1)

        def progress(done: int, total: int) -> None:
            if cancelled():
                raise Cancelled
            said(label, done, total)

        return progress

    return track


def preview(s: Settings, track: Tracker | None = None) -> Frame:
    """The bars: the chain's forward and three backward passes (no finite differences) and
    mean-field theory's factor per layer, as ``vanish`` computes them, without its trial runs."""
    from percgrad.engines.meanfield import theory_for
    from percgrad.engines.perceptron import execute
    from percgrad.engines.perceptron_report import build_report

    options = {k: v for k, v in vanish_options(s).items() if k not in ("steps", "lr")}
    spec = chain_spec(**{**options, "check": "off"})
    passes = track("drawing the chain; forward and backward passes") if track else None
    run, timing = execute(spec, track, passes)
    report = build_report(run, timing, track,
                          track("comparing the gradients, layer by layer") if track else None)
    x = run.net.x.double()
    theory = theory_for(spec, float(x.square().mean()), mean_in=float(x.mean()))
    for k, layer in enumerate(report.layers):
        layer.predicted_factor = theory.chi[k] if k < len(theory.chi) else None
    return Frame(s, report, theory.sigma_w2[-1], theory.sigma_b2[-1], theory.mean_chi, False)


def full(s: Settings, track: Tracker | None = None) -> Frame:
    """The whole ``percgrad vanish`` report of these settings (trained when ``s.steps``)."""
    report = run_chain(chain_spec(**vanish_options(s)), None, track)
    th = report.theory
    assert th is not None
    return Frame(s, report, th.sigma_w2, th.sigma_b2, th.mean_chi, True)


@dataclass(frozen=True)
class Plane:
    """χ₁ = σ_w²·E[φ′(h)²] at the fixed point q* over a σ_w² × σ_b² grid, and per row of the
    grid the critical σ_w² (χ₁ = 1; None where χ₁ does not cross 1 on the row)."""

    activation: str
    sigma_w2: tuple[float, ...]
    sigma_b2: tuple[float, ...]
    chi: tuple[tuple[float, ...], ...]
    """One row per σ_b² (ascending), one column per σ_w²."""
    critical: tuple[float | None, ...]


@functools.lru_cache(maxsize=16)
def plane(activation: str) -> Plane:
    """The phase plane of ``activation`` (theory.phase; cached: it depends on φ alone)."""
    lo, hi = PLANE_SIGMA_W2
    ws = tuple(lo + (hi - lo) * (j + 0.5) / PLANE_COLUMNS for j in range(PLANE_COLUMNS))
    bs = PLANE_SIGMA_B2
    with np.errstate(all="ignore"):
        chi = tuple(tuple(chi1(activation, w, b) for w in ws) for b in bs)
    critical = tuple(critical_sigma_w2(activation, b) if _crosses(row) else None
                     for b, row in zip(bs, chi))
    return Plane(activation, ws, bs, chi, critical)


def _crosses(row: tuple[float, ...]) -> bool:
    """Whether χ₁ goes from below 1 to 1 or above along a row of the grid."""
    good = [c for c in row if math.isfinite(c)]
    return bool(good) and min(good) < 1 <= max(good)


def critical(activation: str, sigma_b2: float) -> float | None:
    """The σ_w² on the critical line χ₁ = 1 at ``sigma_b2`` (None: no crossing)."""
    return critical_sigma_w2(activation, sigma_b2)
