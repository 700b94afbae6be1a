"""The torch side of the catalog: each activation's value and hand-written derivative, each
loss's value, ∂E/∂o and the fused δ of the output, bound to the catalog entries by name."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from percgrad import catalog
from percgrad.catalog import ELU_ALPHA, LEAKY_SLOPE, SOFTPLUS_THRESHOLD, ActivationInfo, LossInfo

__all__ = ["ACTIVATIONS", "LEAKY_SLOPE", "LOSSES", "Activation", "Loss", "activation", "loss"]

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """One activation φ: its catalog entry, its value, and its derivative φ′(a) given a and
    h = φ(a)."""

    info: ActivationInfo
    value: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor, Tensor], Tensor]
    chain: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None
    """g ⊙ φ′(a) written into g, the same formula as ``derivative`` in fewer kernels (the
    backward pass's elementwise step); None: g.mul_(derivative(a, h))."""

    @property
    def name(self) -> str:
        """The catalog name."""
        return self.info.name

    @property
    def dphi_sup(self) -> float:
        """sup |φ′|."""
        return self.info.dphi_sup

    @property
    def kink(self) -> bool:
        """φ′ jumps at 0."""
        return self.info.kink

    @property
    def unit_interval(self) -> bool:
        """Outputs in (0, 1)."""
        return self.info.unit_interval

    def backprop_(self, g: Tensor, a: Tensor, h: Tensor) -> Tensor:
        """g ⊙ φ′(a), in place in g (g must be a fresh tensor)."""
        if self.chain is None:
            return g.mul_(self.derivative(a, h))
        return self.chain(g, a, h)


def _gelu_derivative(a: Tensor, h: Tensor) -> Tensor:
    cdf = 0.5 * (1.0 + torch.erf(a * _INV_SQRT_2))
    return cdf + a * torch.exp(-0.5 * a * a) * _INV_SQRT_2PI


def _softplus_derivative(a: Tensor, h: Tensor) -> Tensor:
    # torch's softplus is linear above its threshold, so its slope there is exactly 1.
    return torch.where(a > SOFTPLUS_THRESHOLD, torch.ones_like(a), torch.sigmoid(a))


def _elu_derivative(a: Tensor, h: Tensor) -> Tensor:
    # α·e^a, not h + α: that sum cancels to a few digits where e^a is tiny.
    return torch.where(a > 0, torch.ones_like(a), ELU_ALPHA * torch.exp(a))


def _identity(a: Tensor) -> Tensor:
    return a


# PyTorch's conventions at the kink: relu′(0) = 0, leaky_relu′(0) = the slope.
_BINDINGS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor, Tensor], Tensor],
                           Callable[[Tensor, Tensor, Tensor], Tensor] | None]] = {
    "sigmoid": (torch.sigmoid, lambda a, h: h * (1.0 - h),
                lambda g, a, h: g.mul_(h).mul_(1.0 - h)),
    # (1 − h)(1 + h), not 1 − h·h: rounding h·h costs ε/(1 − h²) on saturated units.
    "tanh": (torch.tanh, lambda a, h: (1.0 - h) * (1.0 + h),
             lambda g, a, h: g.mul_(1.0 - h).mul_(1.0 + h)),
    "relu": (torch.relu, lambda a, h: (a > 0).to(a.dtype),
             lambda g, a, h: g.masked_fill_(a <= 0, 0.0)),
    "leaky-relu": (lambda a: F.leaky_relu(a, LEAKY_SLOPE),
                   lambda a, h: torch.where(a > 0, torch.ones_like(a), torch.full_like(a, LEAKY_SLOPE)),
                   None),
    "gelu": (F.gelu, _gelu_derivative, None),
    "softplus": (lambda a: F.softplus(a, threshold=SOFTPLUS_THRESHOLD), _softplus_derivative, None),
    "elu": (lambda a: F.elu(a, ELU_ALPHA), _elu_derivative, None),
    "identity": (_identity, lambda a, h: torch.ones_like(a), lambda g, a, h: g),
}

ACTIVATIONS: dict[str, Activation] = {
    name: Activation(info, *_BINDINGS[name]) for name, info in catalog.ACTIVATIONS.items()
}


@dataclass(frozen=True)
class Loss:
    """One loss E(o, t), mean over every element, with ∂E/∂o and the fused ∂E/∂a of the output."""

    info: LossInfo
    elementwise: Callable[[Tensor, Tensor, Tensor], Tensor]
    """E's terms from the logits z (φ's input at the output), the output o and the target t."""
    grad_output: Callable[[Tensor, Tensor], Tensor]
    """∂E/∂o: shown in the tables."""
    fused_delta: Callable[[Tensor, Tensor], Tensor] | None = None
    """∂E/∂z from (o, t) where ∂E/∂o·φ′ cancels (bce after a sigmoid); None: the chain rule."""

    @property
    def name(self) -> str:
        """The catalog name."""
        return self.info.name

    def value(self, z: Tensor, o: Tensor, t: Tensor) -> Tensor:
        """E: the mean (or the sum) of the terms."""
        terms = self.elementwise(z, o, t)
        return terms.mean() if self.info.mean else terms.sum()

    def batched(self, z: Tensor, o: Tensor, t: Tensor) -> Tensor:
        """E of each of a stack of networks: inputs shaped (P, batch, outputs), result (P,)."""
        terms = self.elementwise(z, o, t)
        return terms.mean(dim=(-2, -1)) if self.info.mean else terms.sum(dim=(-2, -1))

    def delta_out(self, z: Tensor, o: Tensor, t: Tensor, act: Activation) -> Tensor:
        """∂E/∂z at the output, the start of the backward pass."""
        if self.fused_delta is not None:
            return self.fused_delta(o, t)
        return act.backprop_(self.grad_output(o, t), z, o)


def _mse_grad_output(o: Tensor, t: Tensor) -> Tensor:
    return (2.0 / o.shape[-2:].numel()) * (o - t)


def _bce_terms(z: Tensor, o: Tensor, t: Tensor) -> Tensor:
    # From the logits: finite even where σ(z) rounds to exactly 0 or 1.
    return F.binary_cross_entropy_with_logits(z, t.expand_as(z), reduction="none")


def _bce_grad_output(o: Tensor, t: Tensor) -> Tensor:
    return (o - t) / (o * (1.0 - o) * o.shape[-2:].numel())


def _bce_delta(o: Tensor, t: Tensor) -> Tensor:
    # σ′ = o(1−o) cancels against the 1/(o(1−o)) of ∂E/∂o: δ = (o−t)/n.
    return (o - t) / o.shape[-2:].numel()


LOSSES: dict[str, Loss] = {
    "mse": Loss(catalog.LOSSES["mse"], lambda z, o, t: (o - t).square(), _mse_grad_output),
    "bce": Loss(catalog.LOSSES["bce"], _bce_terms, _bce_grad_output, _bce_delta),
    "sum": Loss(catalog.LOSSES["sum"], lambda z, o, t: o, lambda o, t: torch.ones_like(o)),
}


def activation(name: str) -> Activation:
    """The activation called ``name`` (or one of its aliases)."""
    return ACTIVATIONS[catalog.activation_name(name)]


def loss(name: str) -> Loss:
    """The loss called ``name`` (or one of its aliases)."""
    return LOSSES[catalog.loss_name(name)]
