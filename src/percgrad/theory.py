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

QUADRATURE_NODES = 127
VANISHING, EXPLODING = 0.9, 1.1
"""Geometric-mean factors per layer below / above which a chain is called vanishing / exploding."""


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
        """−1/ln χ̄: layers over which ‖δ‖² changes by e (negative when it grows)."""
        chi = self.mean_chi
        if chi is None or chi == 1.0:
            return None
        return -1.0 / math.log(chi)


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


def diagnose(factor: float | None) -> str:
    """vanishing, stable or exploding, from a geometric-mean factor of ‖δ‖² per layer."""
    if factor is None or not math.isfinite(factor):
        return "undetermined"
    if factor < VANISHING:
        return "vanishing"
    if factor > EXPLODING:
        return "exploding"
    return "stable"
