"""Every torch-free fact of an activation φ: names, symbols, formulas, kinks, sup|φ′|, He gain,
and the NumPy φ, φ′ and closed-form moments that mean-field theory needs (NumPy is imported when
they are called, so that ``percgrad --help`` needs none)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from percgrad.catalog.names import resolve

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
SOFTPLUS_THRESHOLD = 20.0
"""Above this, torch's softplus returns a itself and its derivative is exactly 1."""

Array = Any
"""A NumPy array (kept as Any so that this module needs no NumPy at import time)."""


@dataclass(frozen=True)
class ActivationInfo:
    """One activation φ: what the user types, what the output shows, what theory needs."""

    name: str
    aliases: tuple[str, ...]
    symbol: str
    """φ in formulas: σ, tanh, relu …"""
    formula: str
    """φ(a) = …, in the header."""
    derivative_formula: str
    """φ′(a) = …"""
    dphi_of_output: str
    """φ′ written in terms of the output o (or a), in the output layer's chain rule."""
    dphi_of_hidden: str
    """φ′ of hidden layer {k} in the δ recursion, with ``{k}`` for the layer's subscript."""
    dphi_sup: float
    """sup |φ′|: the factor in the bound ‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖."""
    kaiming_gain: float
    """torch.nn.init.calculate_gain of this activation (He init's gain)."""
    np_value: Callable[[Array], Array]
    """φ on a NumPy array, for the quadrature of mean-field theory."""
    np_derivative: Callable[[Array], Array]
    """φ′ on a NumPy array."""
    closed_moments: Callable[[float], tuple[float, float, float]] | None = None
    """(E[φ(h)], E[φ(h)²], E[φ′(h)²]) for h ~ N(0, q) in closed form, where a quadrature across a
    kink would be inexact; None: by quadrature."""
    kink: bool = False
    """φ′ jumps at 0: a finite difference can straddle it."""
    bounded: bool = False
    """|φ| stays below a constant (sigmoid, tanh): a residual sum of them grows only linearly."""
    unit_interval: bool = False
    """Every output lies in (0, 1), as binary cross entropy needs."""
    note: str = ""
    """A convention worth stating (PyTorch's value at a kink, a threshold)."""


def _np() -> Any:
    import numpy

    return numpy


def _np_sigmoid(h: Array) -> Array:
    return 0.5 * (1.0 + _np().tanh(0.5 * h))


def _np_cdf(h: Array) -> Array:
    np = _np()
    erf = np.frompyfunc(math.erf, 1, 1)
    return 0.5 * (1.0 + np.asarray(erf(h / math.sqrt(2.0)), dtype=np.float64))


def _np_gelu_prime(h: Array) -> Array:
    return _np_cdf(h) + h * _np().exp(-0.5 * h * h) / math.sqrt(2.0 * math.pi)


def _np_softplus(h: Array) -> Array:
    np = _np()
    return np.where(h > SOFTPLUS_THRESHOLD, h, np.logaddexp(0.0, np.minimum(h, SOFTPLUS_THRESHOLD)))


def _np_softplus_prime(h: Array) -> Array:
    return _np().where(h > SOFTPLUS_THRESHOLD, 1.0, _np_sigmoid(h))


def _np_elu(h: Array) -> Array:
    np = _np()
    return np.where(h > 0, h, ELU_ALPHA * np.expm1(np.minimum(h, 0.0)))


def _np_elu_prime(h: Array) -> Array:
    np = _np()
    return np.where(h > 0, 1.0, ELU_ALPHA * np.exp(np.minimum(h, 0.0)))


def _erfcx(x: float) -> float:
    """e^(x²)·erfc(x) without overflow (an asymptotic series beyond x = 25)."""
    if x < 25.0:
        return math.exp(x * x) * math.erfc(x)
    inv = 1.0 / (2.0 * x * x)
    return (1.0 - inv + 3.0 * inv * inv - 15.0 * inv**3) / (x * math.sqrt(math.pi))


def _elu_moments(q: float) -> tuple[float, float, float]:
    """ELU (α = 1) for h ~ N(0, q), s = √q, from E[e^(ch)·1{h<0}] = e^(c²q/2)·Φ(−cs):
    E[φ] = s/√(2π) + A − ½, E[φ²] = q/2 + B − 2A + ½, E[φ′²] = ½ + B, with
    A = e^(q/2)Φ(−s) = erfcx(s/√2)/2 and B = e^(2q)Φ(−2s) = erfcx(√(2q))/2."""
    if not math.isfinite(q):
        return math.nan, math.nan, math.nan
    s = math.sqrt(max(q, 0.0))
    a = 0.5 * _erfcx(s / math.sqrt(2.0))
    b = 0.5 * _erfcx(math.sqrt(2.0) * s)
    return s / math.sqrt(2.0 * math.pi) + a - 0.5, q / 2.0 + b - 2.0 * a + 0.5, 0.5 + b


def _leaky_moments(slope: float) -> Callable[[float], tuple[float, float, float]]:
    """φ = h for h > 0, slope·h below: E[φ] = (1−slope)·√(q/2π), E[φ²] = q(1+slope²)/2,
    E[φ′²] = (1+slope²)/2."""

    def moments(q: float) -> tuple[float, float, float]:
        s2 = 1.0 + slope * slope
        half = math.sqrt(q / (2.0 * math.pi)) if q >= 0 else math.nan
        return (1.0 - slope) * half, q * s2 / 2.0, s2 / 2.0

    return moments


ACTIVATIONS: dict[str, ActivationInfo] = {
    a.name: a
    for a in (
        ActivationInfo(
            "sigmoid", ("logistic", "sigmoidal"), "σ", "σ(a) = 1/(1+e^(−a))", "σ′(a) = σ(a)(1−σ(a))",
            "o(1−o)", "h{k}⊙(1−h{k})", 0.25, 1.0,
            _np_sigmoid, lambda h: _np_sigmoid(h) * (1.0 - _np_sigmoid(h)), unit_interval=True,
            bounded=True,
        ),
        ActivationInfo(
            "tanh", ("hyperbolic-tangent",), "tanh", "tanh(a)", "tanh′(a) = 1−tanh²(a)",
            "(1−o²)", "(1−h{k}²)", 1.0, 5.0 / 3.0,
            lambda h: _np().tanh(h), lambda h: 1.0 - _np().tanh(h) ** 2, bounded=True,
        ),
        ActivationInfo(
            "relu", ("rectifier",), "relu", "relu(a) = max(0, a)", "relu′(a) = 1 if a>0 else 0",
            "[a>0]", "[a{k}>0]", 1.0, math.sqrt(2.0),
            lambda h: _np().maximum(h, 0.0), lambda h: (h > 0).astype(float),
            closed_moments=_leaky_moments(0.0), kink=True,
            note="relu′(0) = 0, as PyTorch",
        ),
        ActivationInfo(
            "leaky-relu", ("lrelu", "leaky_relu", "leakyrelu"), "lrelu",
            f"lrelu(a) = max({LEAKY_SLOPE}·a, a)", f"lrelu′(a) = 1 if a>0 else {LEAKY_SLOPE}",
            f"(a>0 ? 1 : {LEAKY_SLOPE})", "lrelu′(a{k})", 1.0,
            math.sqrt(2.0 / (1.0 + LEAKY_SLOPE**2)),
            lambda h: _np().where(h > 0, h, LEAKY_SLOPE * h),
            lambda h: _np().where(h > 0, 1.0, LEAKY_SLOPE),
            closed_moments=_leaky_moments(LEAKY_SLOPE), kink=True,
            note=f"lrelu′(0) = {LEAKY_SLOPE}, as PyTorch",
        ),
        ActivationInfo(
            "gelu", (), "gelu", "gelu(a) = a·Φ(a)", "gelu′(a) = Φ(a) + a·ϕ(a)",
            "gelu′(a)", "gelu′(a{k})", 1.1289041451851550,  # gelu′(√2)
            # calculate_gain has no GELU; its positive half behaves like ReLU.
            math.sqrt(2.0), lambda h: h * _np_cdf(h), _np_gelu_prime,
        ),
        ActivationInfo(
            "softplus", (), "softplus", "softplus(a) = ln(1+e^a)", "softplus′(a) = σ(a)",
            "σ(a)", "σ(a{k})", 1.0,
            # calculate_gain has no softplus; a smooth ReLU, so ReLU's gain.
            math.sqrt(2.0), _np_softplus, _np_softplus_prime,
            note=f"above a = {SOFTPLUS_THRESHOLD:g} softplus is a and its slope 1, as PyTorch",
        ),
        ActivationInfo(
            "elu", (), "elu", "elu(a) = a if a>0 else e^a−1", "elu′(a) = 1 if a>0 else e^a",
            "(a>0 ? 1 : e^a)", "elu′(a{k})", 1.0,
            # calculate_gain has no ELU; its positive half is ReLU's.
            math.sqrt(2.0), _np_elu, _np_elu_prime, closed_moments=_elu_moments,
        ),
        ActivationInfo(
            "identity", ("linear", "id", "none"), "id", "id(a) = a", "id′(a) = 1", "1", "1", 1.0, 1.0,
            lambda h: h, lambda h: _np().ones_like(h), closed_moments=lambda q: (0.0, q, 1.0),
        ),
    )
}

ACTIVATION_NAMES = tuple(ACTIVATIONS)


def activation_name(text: str, option: str = "--activation") -> str:
    """The activation ``text`` names."""
    return resolve(text, {n: a.aliases for n, a in ACTIVATIONS.items()}, option)
