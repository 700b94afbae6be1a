"""Mean-field predictions of gradient flow through a deep perceptron (NumPy only).

With weights of variance σ_w²/fan_in and biases of variance σ_b², a pre-activation of layer k
is approximately N(0, q_k), with q₁ = σ_w²·E[x²] + σ_b² and q_{k+1} = σ_w²·E[φ(h)²] + σ_b².
Back-propagation multiplies ‖δ‖² by χ_k = σ_w²·E[φ′(h)²] per layer (h ~ N(0, q_k)): χ < 1
vanishes, χ > 1 explodes, χ = 1 is the edge of chaos (Poole et al. 2016, Schoenholz et al. 2017).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

QUADRATURE_NODES = 127
LEAKY_SLOPE = 0.01
VANISHING, EXPLODING = 0.9, 1.1
"""Geometric-mean factors per layer below / above which a chain is called vanishing / exploding."""

_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(h: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * h))


def _cdf(h: np.ndarray) -> np.ndarray:
    erf = np.asarray(_erf(h / math.sqrt(2.0)), dtype=np.float64)
    return 0.5 * (1.0 + erf)


def _gelu(h: np.ndarray) -> np.ndarray:
    return h * _cdf(h)


def _gelu_prime(h: np.ndarray) -> np.ndarray:
    return _cdf(h) + h * np.exp(-0.5 * h * h) / math.sqrt(2.0 * math.pi)


SMOOTH: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": (_sigmoid, lambda h: _sigmoid(h) * (1.0 - _sigmoid(h))),
    "tanh": (np.tanh, lambda h: 1.0 - np.tanh(h) ** 2),
    "gelu": (_gelu, _gelu_prime),
}


HERMITE_MAX_Q = 4.0
"""Above this variance, Gauss–Hermite nodes near 0 are too far apart for φ′², which is O(1)
wide whatever q is: panels of Gauss–Legendre take over."""
PANEL_NODES = 24


@cache
def _hermite() -> tuple[np.ndarray, np.ndarray]:
    z, w = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    return z, w / w.sum()


@cache
def _panels(q: float) -> tuple[np.ndarray, np.ndarray]:
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
    h, w = _panels(q)
    return float(np.dot(w, f(h)))


def moments(activation: str, q: float) -> tuple[float, float]:
    """(E[φ(h)²], E[φ′(h)²]) for h ~ N(0, q). Piecewise-linear activations in closed form: a
    quadrature straddling the kink at 0 would be inexact, and ReLU's E[φ′²] is exactly ½."""
    if activation == "identity":
        return q, 1.0
    if activation == "relu":
        return q / 2.0, 0.5
    if activation == "leaky-relu":
        s2 = 1.0 + LEAKY_SLOPE**2
        return q * s2 / 2.0, s2 / 2.0
    phi, dphi = SMOOTH[activation]
    return gauss_expectation(lambda h: phi(h) ** 2, q), gauss_expectation(lambda h: dphi(h) ** 2, q)


@dataclass
class Theory:
    """Per-layer predictions: q_k (pre-activation variance) and χ_k (factor ‖δ_k‖²/‖δ_{k+1}‖²)."""

    sigma_w2: list[float]
    sigma_b2: list[float]
    q: list[float]
    chi: list[float]
    """χ_k for k = 1..D−1: predicted ‖δ_k‖² / ‖δ_{k+1}‖²."""

    @property
    def mean_chi(self) -> float | None:
        """Geometric mean of χ over the layers (None for a single layer)."""
        good = [c for c in self.chi if c > 0 and math.isfinite(c)]
        if not good:
            return None
        return math.exp(sum(math.log(c) for c in good) / len(good))

    @property
    def depth_scale(self) -> float | None:
        """−1/ln χ̄: layers over which ‖δ‖² changes by e (negative when it grows)."""
        chi = self.mean_chi
        if chi is None or chi == 1.0:
            return None
        return -1.0 / math.log(chi)


def predict(activation: str, sigma_w2: list[float], sigma_b2: list[float], q_in: float) -> Theory:
    """Run the mean-field recursions over the layers, from the input's mean square ``q_in``
    (huge gains give infinite q and χ, never an error)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _predict(activation, sigma_w2, sigma_b2, q_in)


def _predict(activation: str, sigma_w2: list[float], sigma_b2: list[float], q_in: float) -> Theory:
    q = [sigma_w2[0] * q_in + sigma_b2[0]]
    for k in range(1, len(sigma_w2)):
        e_phi2, _ = moments(activation, q[-1])
        q.append(sigma_w2[k] * e_phi2 + sigma_b2[k])
    chi = [sigma_w2[k + 1] * moments(activation, q[k])[1] for k in range(len(sigma_w2) - 1)]
    return Theory(list(sigma_w2), list(sigma_b2), q, chi)


def diagnose(factor: float | None) -> str:
    """vanishing, stable or exploding, from a geometric-mean factor of ‖δ‖² per layer."""
    if factor is None or not math.isfinite(factor):
        return "undetermined"
    if factor < VANISHING:
        return "vanishing"
    if factor > EXPLODING:
        return "exploding"
    return "stable"
