"""Mean-field predictions of gradient flow through a deep perceptron (NumPy only).

With weights of variance σ_w²/fan_in and biases of variance σ_b², a pre-activation of layer k
is approximately N(0, q_k), with q₁ = σ_w²·E[x²] + σ_b² and q_{k+1} = σ_w²·E[φ(h)²] + σ_b².
Back-propagation multiplies ‖δ‖² by χ_k = σ_w²·E[φ′(h)²] per layer (h ~ N(0, q_k)): χ < 1
vanishes, χ > 1 explodes, χ = 1 is the edge of chaos (Poole et al. 2016, Schoenholz et al. 2017).
``predict`` also covers residual and layer-normalised chains (its docstring has the derivation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from percgrad.catalog import ACTIVATIONS, ARCHS, LN_EPS
from percgrad.theory.flow import depth_scale

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


@dataclass
class Theory:
    """Per-layer predictions: q_k (pre-activation variance) and χ_k (factor ‖δ_k‖²/‖δ_{k+1}‖²)."""

    sigma_w2: list[float]
    sigma_b2: list[float]
    q: list[float]
    chi: list[float]
    """χ_k for k = 1..D−1: predicted ‖δ_k‖² / ‖δ_{k+1}‖², whatever the architecture."""
    arch: str = "plain"
    p: list[float] = field(default_factory=list)
    """Mean square E[h_k²] of each layer's output."""
    mean: list[float] = field(default_factory=list)
    """Mean E[h_k] of each layer's output."""
    v: list[float] = field(default_factory=list)
    """Variance of φ's input: q_k, or q_k/(q_k + ε) after a layer norm."""

    @property
    def mean_chi(self) -> float | None:
        """Geometric mean of χ over the layers (None for a single layer)."""
        good = [c for c in self.chi if c > 0 and math.isfinite(c)]
        if not good:
            return None
        return math.exp(sum(math.log(c) for c in good) / len(good))

    @property
    def depth_scale(self) -> float | None:
        """1/|ln χ̄|: layers over which ‖δ‖² changes by e (None at the edge of chaos)."""
        return depth_scale(self.mean_chi).layers


def predict(
    activation: str,
    sigma_w2: list[float],
    sigma_b2: list[float],
    q_in: float,
    arch: str = "plain",
    *,
    mean_in: float = 0.0,
    width: int | None = None,
    residual_from: int = 1,
) -> Theory:
    """Run the mean-field recursions over the layers of a chain, from the input's mean square
    ``q_in`` and mean ``mean_in`` (huge gains give infinite or NaN q and χ, never an error).

    ``arch`` is one of ``ARCHS``; with a_k = W_k h_{k−1} + b_k and LN(a) = (a − mean(a)) /
    sqrt(var(a) + ε) over the ``width`` = N units of a sample (biased variance, γ = 1, β = 0,
    ε = ``LN_EPS``), layer k computes

        plain               h_k = φ(a_k)
        residual            h_k = h_{k−1} + φ(a_k)
        layernorm           h_k = φ(LN(a_k))
        residual-layernorm  h_k = h_{k−1} + φ(LN(a_k))

    where the residual ones are residual from layer ``residual_from`` (1-based) on and plain
    before it (e.g. where the input width is not N). Var(W_k) = σ_w,k²/fan_in, Var(b_k) = σ_b,k².

    Forward, from p_0 = q_in = E[x²] and μ_0 = mean_in = E[x]:
        q_k = σ_w,k² p_{k−1} + σ_b,k²                  variance of a_k (p is a mean square)
        v_k = q_k, or q_k/(q_k + ε) after a layer norm   variance of φ's input
        m_k = E[φ(√v_k z)], s_k = E[φ(√v_k z)²], d_k = E[φ′(√v_k z)²], z ~ N(0, 1)
        plain layer:     μ_k = m_k,            p_k = s_k
        residual layer:  μ_k = μ_{k−1} + m_k,  p_k = p_{k−1} + 2 μ_{k−1} m_k + s_k
    (h_{k−1,i} and a_{k,i} are independent to leading order in 1/N: a_{k,i} sees h_{k−1,i}
    only through the O(1/√N) weight W_k,ii).

    Backward, with g_k = ∂E/∂h_k, δ_k = ∂E/∂a_k, and the gradient-independence assumption
    (g_k independent of the forward pass of layer k, W_k in the backward independent of W_k in
    the forward):
        ‖δ_k‖² = r_k ‖g_k‖²,  r_k = d_k (no layer norm)
                               r_k = d_k (N − 2) / ((N − 3) q_k + N ε) (layer norm)
        ‖g_{k−1}‖² = T_k ‖g_k‖²,  T_k = σ_w,k² r_k (plain),  1 + σ_w,k² r_k (residual)
    since E‖W_kᵀδ‖² = σ_w,k² ‖δ‖² for any shape, and the cross term 2 g_kᵀ W_kᵀ δ_k of a
    residual layer averages to 0. The predicted factor per layer is then
        χ_k = ‖δ_k‖² / ‖δ_{k+1}‖² = (r_k / r_{k+1}) T_{k+1},  k = 1..D−1,
    computed as σ_w,k+1² r_k (+ r_k / r_{k+1} when layer k+1 is residual): for a plain chain
    exactly the classical χ_k = σ_w,k+1² E[φ′(h)²] at h ~ N(0, q_k), for a residual one
    1 + χ to leading order when r_k ≈ r_{k+1}.

    The layer-norm gain: the backward of LN is J = (1/σ)(C − (var/σ²) ĉĉᵀ), σ² = var + ε, C
    the centring projector and ĉ the unit centred a, i.e. (for ε ≪ var) 1/σ times the
    projector P onto the N − 2 dimensions orthogonal to 1 and ĉ. For u = φ′ ⊙ g with g
    independent, E‖Pu‖² = (1 − 2/N) ‖u‖², exactly for piecewise-linear φ (and up to
    (1 − κ)/N with κ = E[y² φ′(y)²] / (v E[φ′(y)²]) for smooth φ). And 1/σ² is not 1/(q + ε):
    with a_k's N entries independent N(0, q_k), N var / q_k ~ χ²_{N−1} independently of ĉ, so
    E[1/var] = N / ((N − 3) q_k) — hence (N − 2)/((N − 3) q_k + N ε) (exact for ε = 0; ε
    only matters where q_k ≲ ε), not (1 − 2/N)/(q_k + ε). Without bias σ_w² cancels from
    χ_k = σ_w,k+1² r_k of a layer-normalised plain chain (up to ε): χ ≈ d (N − 2) / ((N − 3) s)
    with d, s at v ≈ 1, which for ReLU is (N − 2)/(N − 3). Fluctuations of p_{k−1} from sample
    to sample add further O(1/N) terms that this mean-field recursion leaves out.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}: expected one of {', '.join(ARCHS)}")
    if arch.endswith("layernorm") and width is None:
        raise ValueError(f"arch {arch!r} needs the width N of the layers (the layer norm is over N units)")
    if width is not None and width < 1:
        raise ValueError(f"width must be a positive number of units, not {width}")
    if residual_from < 1:
        raise ValueError(f"residual_from is the 1-based index of a layer, not {residual_from}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _predict(activation, sigma_w2, sigma_b2, q_in, arch, mean_in, width, residual_from)


def _div(a: float, b: float) -> float:
    """a / b in IEEE arithmetic: inf or NaN on a zero divisor instead of ZeroDivisionError."""
    return float(np.float64(a) / np.float64(b))


def _ln_gain(q: float, width: int) -> float:
    """E‖δ‖² / (d·‖g‖²) through a layer norm over ``width`` units with a of variance q."""
    if width <= 2:
        return 0.0  # LN of 1 or 2 units is constant: no gradient passes
    return _div(width - 2.0, (width - 3.0) * q + width * LN_EPS)


def _predict(
    activation: str,
    sigma_w2: list[float],
    sigma_b2: list[float],
    q_in: float,
    arch: str,
    mean_in: float,
    width: int | None,
    residual_from: int,
) -> Theory:
    layernorm = arch.endswith("layernorm")
    residual = [arch.startswith("residual") and k + 1 >= residual_from for k in range(len(sigma_w2))]
    q: list[float] = []
    v: list[float] = []
    p: list[float] = []
    mean: list[float] = []
    r: list[float] = []
    p_prev, mean_prev = q_in, mean_in
    for k in range(len(sigma_w2)):
        q_k = sigma_w2[k] * p_prev + sigma_b2[k]
        v_k = _div(q_k, q_k + LN_EPS) if layernorm else q_k
        e_phi2, e_dphi2 = moments(activation, v_k)
        m_k = mean_phi(activation, v_k)
        if residual[k]:
            p_prev, mean_prev = p_prev + 2.0 * mean_prev * m_k + e_phi2, mean_prev + m_k
        else:
            p_prev, mean_prev = e_phi2, m_k
        q.append(q_k)
        v.append(v_k)
        p.append(p_prev)
        mean.append(mean_prev)
        r.append(e_dphi2 * _ln_gain(q_k, width) if width is not None and layernorm else e_dphi2)
    chi = []
    for k in range(len(sigma_w2) - 1):
        factor = sigma_w2[k + 1] * r[k]
        if residual[k + 1]:
            factor += _div(r[k], r[k + 1])
        chi.append(factor)
    return Theory(list(sigma_w2), list(sigma_b2), q, chi, arch=arch, p=p, mean=mean, v=v)


# ---------------------------------------------------------------- the phase diagram
# Fixed points of the variance and correlation maps, χ₁ at the fixed point, the critical line
# χ₁ = 1 and the depth scale ξ (Poole et al. 2016, Schoenholz et al. 2017).

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
        u1, w1 = _panels(q1)
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
