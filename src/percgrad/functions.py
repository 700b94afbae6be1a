"""Activations and losses: value, hand-written derivative, and the formula shown to the user."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from percgrad.errors import PercgradError

LEAKY_SLOPE = 0.01
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """One activation φ: its value, its derivative φ′(a) given a and h = φ(a), and its formulas."""

    name: str
    symbol: str
    formula: str
    derivative_formula: str
    value: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor, Tensor], Tensor]
    dphi_sup: float
    """sup |φ′|: the factor in the rigorous bound ‖δ_k‖ ≤ sup|φ′|·‖W_{k+1}‖₂·‖δ_{k+1}‖."""
    unit_interval: bool = False
    """True when every output lies in (0, 1), as binary cross entropy needs."""
    kink: bool = False
    """True when φ′ jumps at 0, where a finite difference can straddle the kink."""
    chain: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None
    """g ⊙ φ′(a) written into g, the same formula as ``derivative`` in fewer kernels (the
    backward pass's elementwise step); None: g.mul_(derivative(a, h))."""

    def backprop_(self, g: Tensor, a: Tensor, h: Tensor) -> Tensor:
        """g ⊙ φ′(a), in place in g (g must be a fresh tensor)."""
        if self.chain is None:
            return g.mul_(self.derivative(a, h))
        return self.chain(g, a, h)


def _gelu_derivative(a: Tensor, h: Tensor) -> Tensor:
    cdf = 0.5 * (1.0 + torch.erf(a * _INV_SQRT_2))
    return cdf + a * torch.exp(-0.5 * a * a) * _INV_SQRT_2PI


def _identity(a: Tensor) -> Tensor:
    return a


# PyTorch's conventions at the kink: relu′(0) = 0, leaky_relu′(0) = the slope.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "sigmoid", "σ", "σ(a) = 1/(1+e^(−a))", "σ′(a) = σ(a)(1−σ(a))",
            torch.sigmoid, lambda a, h: h * (1.0 - h), 0.25, unit_interval=True,
            chain=lambda g, a, h: g.mul_(h).mul_(1.0 - h),
        ),
        Activation(
            "tanh", "tanh", "tanh(a)", "tanh′(a) = 1−tanh²(a)",
            # (1 − h)(1 + h), not 1 − h·h: rounding h·h costs ε/(1 − h²) on saturated units.
            torch.tanh, lambda a, h: (1.0 - h) * (1.0 + h), 1.0,
            chain=lambda g, a, h: g.mul_(1.0 - h).mul_(1.0 + h),
        ),
        Activation(
            "relu", "relu", "relu(a) = max(0, a)", "relu′(a) = 1 if a>0 else 0",
            torch.relu, lambda a, h: (a > 0).to(a.dtype), 1.0, kink=True,
            chain=lambda g, a, h: g.masked_fill_(a <= 0, 0.0),
        ),
        Activation(
            "leaky-relu", "lrelu", f"lrelu(a) = a if a>0 else {LEAKY_SLOPE}·a",
            f"lrelu′(a) = 1 if a>0 else {LEAKY_SLOPE}",
            lambda a: F.leaky_relu(a, LEAKY_SLOPE),
            lambda a, h: torch.where(a > 0, torch.ones_like(a), torch.full_like(a, LEAKY_SLOPE)),
            1.0, kink=True,
        ),
        Activation(
            "gelu", "gelu", "gelu(a) = a·Φ(a)", "gelu′(a) = Φ(a) + a·ϕ(a)",
            F.gelu, _gelu_derivative, 1.1289977,
        ),
        Activation(
            "identity", "id", "id(a) = a", "id′(a) = 1",
            _identity, lambda a, h: torch.ones_like(a), 1.0, chain=lambda g, a, h: g,
        ),
    )
}


@dataclass(frozen=True)
class Loss:
    """One loss E(o, t), mean over every element, with ∂E/∂o and the fused ∂E/∂a of the output."""

    name: str
    formula: str
    grad_formula: str
    value: Callable[[Tensor, Tensor, Tensor], Tensor]
    """E from the output's pre-activation a, the output o = φ(a) and the target t."""
    grad_output: Callable[[Tensor, Tensor], Tensor]
    """∂E/∂o: shown in the tables."""
    delta_out: Callable[[Tensor, Tensor, Tensor, Activation], Tensor]
    """δ_L = ∂E/∂a_L, the start of the backward pass."""
    batched: Callable[[Tensor, Tensor, Tensor], Tensor]
    """E of each of a stack of networks: inputs shaped (P, batch, outputs), result (P,)."""


def _mse_value(a: Tensor, o: Tensor, t: Tensor) -> Tensor:
    return F.mse_loss(o, t)


def _mse_grad_output(o: Tensor, t: Tensor) -> Tensor:
    return (2.0 / o.numel()) * (o - t)


def _mse_delta(a: Tensor, o: Tensor, t: Tensor, act: Activation) -> Tensor:
    return act.backprop_(_mse_grad_output(o, t), a, o)


def _mse_batched(a: Tensor, o: Tensor, t: Tensor) -> Tensor:
    return (o - t).square().mean(dim=(-2, -1))


def _bce_value(a: Tensor, o: Tensor, t: Tensor) -> Tensor:
    # From the logits: finite even where σ(a) rounds to exactly 0 or 1.
    return F.binary_cross_entropy_with_logits(a, t)


def _bce_batched(a: Tensor, o: Tensor, t: Tensor) -> Tensor:
    per = F.binary_cross_entropy_with_logits(a, t.expand_as(a), reduction="none")
    return per.mean(dim=(-2, -1))


def _bce_grad_output(o: Tensor, t: Tensor) -> Tensor:
    return (o - t) / (o * (1.0 - o) * o.numel())


def _bce_delta(a: Tensor, o: Tensor, t: Tensor, act: Activation) -> Tensor:
    # σ′ = o(1−o) cancels against the 1/(o(1−o)) of ∂E/∂o: δ = (o−t)/n.
    return (o - t) / o.numel()


LOSSES: dict[str, Loss] = {
    "mse": Loss(
        "mse", "E = (1/n) Σ (o−t)²", "∂E/∂o = 2(o−t)/n",
        _mse_value, _mse_grad_output, _mse_delta, _mse_batched,
    ),
    "bce": Loss(
        "bce", "E = −(1/n) Σ [t·ln o + (1−t)·ln(1−o)]", "∂E/∂o = (o−t) / (n·o(1−o))",
        _bce_value, _bce_grad_output, _bce_delta, _bce_batched,
    ),
}


def activation(name: str) -> Activation:
    """The activation called ``name``."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        allowed = ", ".join(ACTIVATIONS)
        raise PercgradError(f"unknown activation {name!r}; allowed: {allowed}", "--activation") from None


def loss(name: str) -> Loss:
    """The loss called ``name``."""
    try:
        return LOSSES[name]
    except KeyError:
        raise PercgradError(f"unknown loss {name!r}; allowed: mse, bce", "--loss") from None
