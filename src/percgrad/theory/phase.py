"""The order-to-chaos phase diagram: fixed points of the variance and correlation maps, χ₁ at
the fixed point, the critical line χ₁ = 1 and the depth scale ξ (Poole et al. 2016, Schoenholz et
al. 2017). NumPy only."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np

from percgrad.catalog import ACTIVATIONS
from percgrad.theory.moments import HERMITE_MAX_Q, gauss_expectation, moments, panels

Q_INFINITE = 1e15
"""A variance map that passes this is taken to grow without bound (q* = ∞)."""
Q_ZERO = 1e-30
"""A fixed point below this is q* = 0 (the signal dies: σ_b² = 0 in the ordered phase)."""
FIXED_POINT_ITERATIONS = 20
"""Plain iterations of a map before regula falsi polishes its fixed point."""
OUTER_NODES, INNER_NODES = 64, 32
"""Gauss–Hermite nodes of the correlation map's outer integral (over u₁) and inner one (over
u₂ given u₁)."""


def variance_map(activation: str, sigma_w2: float, sigma_b2: float, q: float) -> float:
    """q ↦ σ_w²·E[φ(h)²] + σ_b², h ~ N(0, q): the next layer's pre-activation variance."""
    return sigma_w2 * moments(activation, q)[0] + sigma_b2


def _root(f: Callable[[float], float], a: float, b: float, fa: float | None = None,
          fb: float | None = None) -> float:
    """A root of f between a and b, where f changes sign, by the Illinois variant of regula
    falsi: exact in one step for a linear f, superlinear otherwise, never leaving the bracket."""
    fa = f(a) if fa is None else fa
    fb = f(b) if fb is None else fb
    if fa == 0 or fb == 0:
        return a if fa == 0 else b
    if fa > 0:  # make f(a) < 0 < f(b)
        return _root(lambda x: -f(x), a, b, -fa, -fb)
    side = 0
    c = 0.5 * (a + b)
    for _ in range(200):
        c = (a * fb - b * fa) / (fb - fa)
        if not min(a, b) < c < max(a, b):
            c = 0.5 * (a + b)
        fc = f(c)
        if fc == 0 or abs(b - a) <= 1e-15 * max(abs(c), 1e-300):
            return c
        if fc < 0:
            a, fa = c, fc
            if side == -1:
                fb /= 2
            side = -1
        else:
            b, fb = c, fc
            if side == 1:
                fa /= 2
            side = 1
    return c


def fixed_point_q(activation: str, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> float:
    """q* = σ_w²·E[φ(√q* z)²] + σ_b², the variance a deep chain settles to from q0: iterated,
    then polished by regula falsi (0 when the signal dies, ∞ when it grows without bound)."""
    with np.errstate(over="ignore", invalid="ignore"):
        q = float(q0)
        for _ in range(FIXED_POINT_ITERATIONS):
            nxt = variance_map(activation, sigma_w2, sigma_b2, q)
            if not math.isfinite(nxt) or nxt > Q_INFINITE:
                return math.inf
            if abs(nxt - q) <= 1e-15 * max(nxt, 1e-300):
                return nxt
            q = nxt

        def gap(x: float) -> float:
            return variance_map(activation, sigma_w2, sigma_b2, x) - x

        here = gap(q)
        if here == 0:
            return q
        if here < 0:  # above the fixed point: step down until the map is above the diagonal
            lo = q / 2
            while gap(lo) < 0:
                if lo < Q_ZERO:
                    return 0.0
                lo /= 2
            return _root(gap, lo, q, None, here)
        hi = 2 * q
        while gap(hi) > 0:
            if hi > Q_INFINITE:
                return math.inf
            hi *= 2
        return _root(gap, q, hi, here)


def chi1(activation: str, sigma_w2: float, sigma_b2: float, q_star: float | None = None) -> float:
    """χ₁ = σ_w²·E[φ′(√q* z)²]: the per-layer factor of ‖δ‖² once the forward pass has settled
    to its fixed point q* (computed unless given); NaN where q* = ∞ and no closed form exists."""
    q = fixed_point_q(activation, sigma_w2, sigma_b2) if q_star is None else q_star
    with np.errstate(over="ignore", invalid="ignore"):
        return sigma_w2 * moments(activation, q)[1]


def critical_sigma_w2(activation: str, sigma_b2: float, lo: float = 0.05,
                      hi: float = 64.0) -> float | None:
    """The σ_w² where χ₁ = 1 at this σ_b² (the edge of chaos), by bracketing on a geometric
    scan and regula falsi (Illinois); None when χ₁ does not cross 1 between ``lo`` and ``hi``."""

    def g(s: float) -> float:
        c = chi1(activation, s, sigma_b2)
        return c - 1.0 if math.isfinite(c) else math.nan

    prev, f_prev = lo, g(lo)
    if f_prev == 0:
        return lo
    for s in np.geomspace(lo, hi, 49)[1:]:  # lazily: the first crossing ends the scan
        here, f_here = float(s), g(float(s))
        if math.isfinite(f_prev) and math.isfinite(f_here) and f_prev < 0 <= f_here:
            return _root(g, prev, here, f_prev, f_here)
        prev, f_prev = here, f_here
    return None


def joint_expectation(activation: str, q1: float, q2: float, c: float) -> float:
    """E[φ(u₁)φ(u₂)] for (u₁, u₂) jointly Gaussian, variances q1, q2, correlation c: the outer
    integral over u₁ by Gauss–Hermite (Gauss–Legendre panels beyond ``HERMITE_MAX_Q``, as
    ``gauss_expectation``), the inner over u₂ | u₁ ~ N(c·√(q2/q1)·u₁, q2·(1 − c²)) by
    Gauss–Hermite."""
    phi = ACTIVATIONS[activation].np_value
    c = min(max(c, -1.0), 1.0)
    if q1 <= 0 or q2 <= 0:  # a variance of 0: that input is the constant φ(0)
        at_zero = float(phi(np.zeros(1))[0])
        other = max(q1, q2, 0.0)
        return at_zero * (gauss_expectation(phi, other) if other > 0 else at_zero)
    if q1 <= HERMITE_MAX_Q:
        z, w1 = _joint_hermite(OUTER_NODES)
        u1 = math.sqrt(q1) * z
    else:
        u1, w1 = panels(q1)
    mean = c * math.sqrt(q2 / q1) * u1
    var = q2 * (1.0 - c * c)
    if var <= 0:
        inner = phi(mean)
    else:
        z2, w2 = _joint_hermite(INNER_NODES)
        inner = phi(mean[:, None] + math.sqrt(var) * z2[None, :]) @ w2
    return float(np.dot(w1, phi(u1) * inner))


@cache
def _joint_hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    return z, w / w.sum()


def correlation_step(activation: str, sigma_w2: float, sigma_b2: float, q1: float, q2: float,
                     c: float) -> tuple[float, float, float]:
    """One layer of the two-input recursion: (q1, q2, c) of two pre-activations → the next
    layer's, q ↦ σ_w²·E[φ²] + σ_b², q₁₂ ↦ σ_w²·E[φ(u₁)φ(u₂)] + σ_b², c = q₁₂/√(q1·q2)."""
    n1 = variance_map(activation, sigma_w2, sigma_b2, q1)
    n2 = variance_map(activation, sigma_w2, sigma_b2, q2)
    n12 = sigma_w2 * joint_expectation(activation, q1, q2, c) + sigma_b2
    denom = math.sqrt(n1 * n2)
    return n1, n2, (n12 / denom if denom > 0 else math.nan)


def correlation_map(activation: str, sigma_w2: float, sigma_b2: float, q_star: float,
                    c: float) -> float:
    """c ↦ (σ_w²·E[φ(u₁)φ(u₂)] + σ_b²) / q*, u₁, u₂ ~ N(0, q*) with correlation c: the
    correlation of two inputs one layer on, once their variances have settled to q*."""
    return (sigma_w2 * joint_expectation(activation, q_star, q_star, c) + sigma_b2) / q_star


def fixed_point_c(activation: str, sigma_w2: float, sigma_b2: float,
                  q_star: float | None = None) -> float | None:
    """c* in [0, 1], the correlation two positively correlated inputs settle to: 1 in the
    ordered phase (χ₁ ≤ 1: the map's slope at c = 1 is χ₁), else its other fixed point; None
    where undefined (q* = 0, the signal dies, or q* = ∞).

    The map is (σ_w²·Σ_n a_n² q*ⁿ cⁿ + σ_b²)/q* with a_n the Hermite coefficients of φ
    (Mehler's formula): convex on [0, 1] and 1 at c = 1, so below 1 it crosses the diagonal at
    most once more, at c* (0 when φ is odd and σ_b² = 0)."""
    q = fixed_point_q(activation, sigma_w2, sigma_b2) if q_star is None else q_star
    if not (q > Q_ZERO and math.isfinite(q)):
        return None
    slope = chi1(activation, sigma_w2, sigma_b2, q)
    if not math.isfinite(slope):
        return None
    if slope <= 1.0:
        return 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        def gap(x: float) -> float:
            return correlation_map(activation, sigma_w2, sigma_b2, q, x) - x

        at_zero = gap(0.0)
        if at_zero <= 1e-14:
            return 0.0
        lo, f_lo = 0.0, at_zero
        hi = 0.5
        while True:  # the map is below the diagonal on (c*, 1): find a point there
            f_hi = gap(hi)
            if f_hi < 0:
                return _root(gap, lo, hi, f_lo, f_hi)
            if 1.0 - hi < 1e-12:
                return hi
            lo, f_lo = hi, f_hi
            hi = 0.5 * (hi + 1.0)


def correlation_depth(activation: str, sigma_w2: float, sigma_b2: float, q1: float, q2: float,
                      c: float, depth: int) -> list[float]:
    """The correlation of two inputs' pre-activations at layers 1…depth, from the variances
    q1, q2 and correlation c of their first layer's pre-activations (once the recursion has
    settled to round-off, the remaining layers repeat its value)."""
    out = [c]
    while len(out) < depth:
        n1, n2, nc = correlation_step(activation, sigma_w2, sigma_b2, q1, q2, c)
        settled = abs(n1 - q1) <= 1e-14 * abs(n1) and abs(n2 - q2) <= 1e-14 * abs(n2) and \
            abs(nc - c) <= 1e-14
        q1, q2, c = n1, n2, nc
        out.append(c)
        if settled:
            out += [c] * (depth - len(out))
    return out
