"""Gaussian expectations of an activation: E[φ(h)], E[φ(h)²] and E[φ′(h)²] for h ~ N(0, q), in
closed form where the catalog has one, else by quadrature (NumPy only)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np

from percgrad.catalog import ACTIVATIONS

QUADRATURE_NODES = 127


HERMITE_MAX_Q = 4.0
"""Above this variance, Gauss–Hermite nodes near 0 are too far apart for φ′², which is O(1)
wide whatever q is: panels of Gauss–Legendre take over."""
PANEL_NODES = 24


@cache
def _hermite() -> tuple[np.ndarray, np.ndarray]:
    z, w = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    return z, w / w.sum()


@cache
def panels(q: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (Gaussian density included) on panels that double in width from 0
    outwards, fine near 0 where the activations bend, out to 12 standard deviations."""
    sd = math.sqrt(q)
    edges = [0.0, min(0.25, sd / 4)]
    while edges[-1] < 12 * sd:
        edges.append(2 * edges[-1])
    x, w = np.polynomial.legendre.leggauss(PANEL_NODES)
    lo, hi = np.array(edges[:-1]), np.array(edges[1:])
    half = 0.5 * (hi - lo)
    nodes = (lo[:, None] + half[:, None] * (x[None, :] + 1)).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    nodes = np.concatenate([-nodes[::-1], nodes])
    weights = np.concatenate([weights[::-1], weights])
    density = np.exp(-0.5 * nodes**2 / q) / math.sqrt(2 * math.pi * q)
    return nodes, weights * density


def gauss_expectation(f: Callable[[np.ndarray], np.ndarray], q: float) -> float:
    """E[f(h)] for h ~ N(0, q): Gauss–Hermite quadrature (probabilists' weights) for q up to
    ``HERMITE_MAX_Q``, composite Gauss–Legendre on doubling panels beyond."""
    if not math.isfinite(q):
        return math.nan
    if q <= 0:
        return float(f(np.zeros(1))[0])
    if q <= HERMITE_MAX_Q:
        z, w = _hermite()
        return float(np.dot(w, f(math.sqrt(q) * z)))
    h, w = panels(q)
    return float(np.dot(w, f(h)))


def moments(activation: str, q: float) -> tuple[float, float]:
    """(E[φ(h)²], E[φ′(h)²]) for h ~ N(0, q), from the catalog: closed forms where it has them
    (a quadrature straddling a kink at 0 would be inexact, and ReLU's E[φ′²] is exactly ½)."""
    info = ACTIVATIONS[activation]
    if info.closed_moments is not None:
        return info.closed_moments(q)[1:]
    phi, dphi = info.np_value, info.np_derivative
    return gauss_expectation(lambda h: phi(h) ** 2, q), gauss_expectation(lambda h: dphi(h) ** 2, q)


def mean_phi(activation: str, q: float) -> float:
    """E[φ(h)] for h ~ N(0, q): closed form where the catalog has one, else by quadrature."""
    info = ACTIVATIONS[activation]
    if info.closed_moments is not None:
        return info.closed_moments(q)[0]
    return gauss_expectation(info.np_value, q)
