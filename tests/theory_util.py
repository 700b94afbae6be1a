"""Independent references for the theory tests (tests/theory/): our own φ and φ′, and a fine-grid
Gaussian expectation."""

from __future__ import annotations

import math

import numpy as np


def _sigmoid(h: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-h))


# Our own φ and φ′, written independently of the catalog.
PHI = {
    "sigmoid": (_sigmoid, lambda h: _sigmoid(h) * (1.0 - _sigmoid(h))),
    "tanh": (np.tanh, lambda h: 1.0 / np.cosh(h) ** 2),
}


def fine_expectation(f, q: float) -> float:
    """E[f(h)], h ~ N(0, q), by the trapezoid rule on a grid that resolves unit-scale features
    of f however wide the Gaussian is (an independent reference for the quadrature)."""
    s = math.sqrt(q)
    half = 12.0 * s
    step = min(s, 1.0) / 50.0
    h = np.linspace(-half, half, int(2 * half / step) + 1)
    density = np.exp(-h * h / (2.0 * q)) / math.sqrt(2.0 * math.pi * q)
    with np.errstate(over="ignore"):
        values = f(h)
    return float(np.trapezoid(values * density, h))
