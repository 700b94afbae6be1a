"""What every layer kind shares: the trace a forward pass leaves, the edits and directions of
the finite-difference check, the affine map, and the Layer base class.

Shapes follow PyTorch: a batch of inputs h is (batch, in), a weight W is (out, in),
a = h Wᵀ + b. Every ``trace`` also runs on a stack of networks: h shaped (P, batch, in), and each
parameter either shared (its own shape) or stacked (P, *shape), which is how finite
differences evaluate many perturbed copies of a network in one pass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.network.functions import Activation
from percgrad.theory.meanfield import PLAIN, Signal, Step


@dataclass
class Trace:
    """What one layer's forward pass leaves: its input h, its pre-activation a = h Wᵀ + b
    (δ = ∂E/∂a), φ's input z (a itself, or LN(a)), its output, and what its backward needs."""

    h: Tensor
    a: Tensor
    z: Tensor
    out: Tensor
    saved: tuple[Tensor, ...] = ()


@dataclass
class Edit:
    """±ε on entries of one parameter, one entry per row: rows ``plus`` get +ε, rows
    ``plus + offset`` get −ε (the full finite-difference check)."""

    param: int
    entries: Tensor
    plus: Tensor
    offset: int


@dataclass
class Direction:
    """One parameter's part of ``count`` random unit directions: c·r sᵀ (rank one, r over the
    first dimension, s over the rest), or c·r for a vector (s is None)."""

    r: Tensor
    s: Tensor | None
    c: float

    def dense(self, shape: torch.Size) -> Tensor:
        """The directions as full tensors, (count, *shape)."""
        if self.s is None:
            return self.c * self.r
        return (self.c * self.r[:, :, None] * self.s[:, None, :]).view(-1, *shape)


def affine(h: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """h Wᵀ (+ b) for a batch (2-D h) or a stack (3-D h) with W and b shared or stacked. A
    shared W on a stack is one 2-D matmul (batched matmuls of many tiny matrices are slow)."""
    if w.dim() == 2:
        if h.dim() == 2:
            return torch.mm(h, w.t()) if b is None else torch.addmm(b, h, w.t())
        p, batch, n_in = h.shape
        flat = h.reshape(p * batch, n_in)
        if b is None or b.dim() == 1:
            a = torch.mm(flat, w.t()) if b is None else torch.addmm(b, flat, w.t())
            return a.view(p, batch, w.shape[0])
        return torch.mm(flat, w.t()).view(p, batch, w.shape[0]) + b[:, None, :]
    a = torch.matmul(h, w.transpose(-1, -2))
    if b is None:
        return a
    return a + (b if b.dim() == 1 else b[:, None, :])


def rowwise(v: Tensor) -> Tensor:
    """A per-unit vector shared (units,) or stacked (P, units), made to broadcast over the batch."""
    return v if v.dim() == 1 else v[:, None, :]


class Layer(ABC):
    """One layer kind: its parameters (W first) and their init, its forward, its hand-derived
    backward, its Jacobian ∂out/∂h and its mean-field map. The class itself is the map that
    theory composes (``meanfield`` and ``chi``); the words about it are its catalog entry
    (percgrad.catalog.architectures.NORMS), under the name it is registered with."""

    kind: str = ""
    symbols: tuple[str, ...] = ()
    """Names of the parameters, in order, without the layer index (W, b, γ, β)."""
    skips = False
    """True when the output is not φ(z) alone (a skip connection adds the input)."""
    fast = False
    """True when ``perturbed`` and ``directed`` have a path cheaper than copying parameters."""

    def __init__(self, act: Activation, params: Sequence[Tensor], names: Sequence[str]) -> None:
        self.act = act
        self.params = list(params)
        self.names = tuple(names)

    @classmethod
    def create(cls, act: Activation, weight: Tensor, bias: Tensor | None) -> Layer:
        """A layer of this kind around ``weight`` (out, in) and ``bias``, with any parameters of
        its own at their initial values."""
        params = [weight] + ([] if bias is None else [bias])
        return cls(act, params, ["W"] + ([] if bias is None else ["b"]))

    @classmethod
    def meanfield(cls, activation: str, sigma_w2: float, sigma_b2: float, signal: Signal,
                  width: int | None) -> Step:
        """Its mean-field step (theory.meanfield.LayerMap): a dense layer's unless it says more."""
        return PLAIN.meanfield(activation, sigma_w2, sigma_b2, signal, width)

    @classmethod
    def chi(cls, sigma_w2: float, r_below: float, r_self: float) -> float:
        """The mean-field factor from its δ to the δ of the layer below."""
        return PLAIN.chi(sigma_w2, r_below, r_self)

    def has(self, name: str) -> bool:
        """True when the layer has a parameter called ``name``."""
        return name in self.names

    def index(self, name: str) -> int | None:
        """Position of the parameter ``name``, or None."""
        return self.names.index(name) if name in self.names else None

    @property
    def weight(self) -> Tensor:
        """W."""
        return self.params[0]

    @property
    def bias(self) -> Tensor | None:
        """b, when the layer has one."""
        i = self.index("b")
        return None if i is None else self.params[i]

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) of W."""
        return int(self.weight.shape[0]), int(self.weight.shape[1])

    def with_params(self, params: Sequence[Tensor]) -> Layer:
        """The same layer with other parameter tensors."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.params = list(params)
        return clone

    @abstractmethod
    def trace(self, h: Tensor, params: Sequence[Tensor]) -> Trace:
        """The forward pass on ``h`` with ``params`` (recorded by autograd when they require grad)."""

    def forward(self, h: Tensor) -> Trace:
        """The forward pass with this layer's own parameters (nothing recorded)."""
        return self.trace(h, self.params)

    def dphi(self, tr: Trace, sample: int) -> Tensor:
        """φ′ at φ's input, for one sample."""
        return self.act.derivative(tr.z, tr.out)[sample]

    @abstractmethod
    def jacobian(self, tr: Trace, sample: int) -> Tensor:
        """∂out/∂h of one sample, (out, in), from its forward trace: the chain rule written out."""

    @abstractmethod
    def backward(self, g_out: Tensor, tr: Trace, g_z: Tensor | None = None,
                 wants_input: bool = True) -> tuple[Tensor | None, list[Tensor], Tensor]:
        """From g_out = ∂E/∂out (which it may overwrite), or g_z = ∂E/∂z when the loss gives
        it fused: (∂E/∂h or None, ∂E/∂ of every parameter, δ = ∂E/∂a)."""

    def perturbed(self, h: Tensor, base: Trace | None, edits: list[Edit], eps: float) -> Trace:
        """The stacked forward with each row's parameter entries moved by ±ε. Generic: every
        edited parameter is copied per row; a layer may do better (``base`` is this layer's
        unperturbed trace when ``h`` is its unperturbed input, expanded)."""
        rows = h.shape[0]
        params: list[Tensor] = list(self.params)
        for e in edits:
            p = params[e.param]
            if p is self.params[e.param]:
                p = p.expand(rows, *p.shape).clone()
                params[e.param] = p
            flat = p.view(rows, -1)
            flat[e.plus, e.entries] += eps
            flat[e.plus + e.offset, e.entries] -= eps
        return self.trace(h, params)

    def directed(self, h: Tensor, dirs: list[Direction], row_eps: Tensor, reps: int) -> Trace:
        """The stacked forward with row i's parameters at θ + row_eps[i]·u_(i mod count).
        Generic: the directions made dense, one parameter set per row."""
        params = []
        for p, d in zip(self.params, dirs):
            u = d.dense(p.shape).repeat(reps, *([1] * p.dim()))
            params.append(p + row_eps.view(-1, *([1] * p.dim())) * u)
        return self.trace(h, params)
