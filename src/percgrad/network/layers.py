"""Layers as objects: parameters, a forward that keeps what the backward needs, the backward
derived by hand (the chain rule written out, never autograd), and the formula text.

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
import torch.nn.functional as F
from torch import Tensor

from percgrad.catalog import LN_EPS
from percgrad.network.functions import Activation


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


def _rowwise(v: Tensor) -> Tensor:
    """A per-unit vector shared (units,) or stacked (P, units), made to broadcast over the batch."""
    return v if v.dim() == 1 else v[:, None, :]


class Layer(ABC):
    """One layer: its parameters (W first), its forward, its hand-derived backward."""

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


class Dense(Layer):
    """h = φ(a), a = h_prev Wᵀ + b."""

    kind = "dense"
    symbols = ("W", "b")
    fast = True

    def trace(self, h: Tensor, params: Sequence[Tensor]) -> Trace:
        a = affine(h, params[0], params[1] if len(params) > 1 else None)
        return Trace(h, a, a, self.act.value(a))

    def backward(self, g_out: Tensor, tr: Trace, g_z: Tensor | None = None,
                 wants_input: bool = True) -> tuple[Tensor | None, list[Tensor], Tensor]:
        # δ = ∂E/∂out ⊙ φ′(a);  ∂E/∂W = δᵀ h;  ∂E/∂b = Σ_batch δ;  ∂E/∂h = δ W.
        delta = g_z if g_z is not None else self.act.backprop_(g_out, tr.a, tr.out)
        grads = [torch.mm(delta.t(), tr.h)]
        if len(self.params) > 1:
            grads.append(delta.sum(dim=0))
        g_in = torch.mm(delta, self.params[0]) if wants_input else None
        return g_in, grads, delta

    def perturbed(self, h: Tensor, base: Trace | None, edits: list[Edit], eps: float) -> Trace:
        # A weight entry W_ij moves only a_i, by ε·h_j; a bias entry b_i moves a_i by ε.
        w = self.params[0]
        b = self.params[1] if len(self.params) > 1 else None
        a = base.a.expand(h.shape[0], *base.a.shape).clone() if base is not None else affine(h, w, b)
        n_in = w.shape[1]
        for e in edits:
            minus = e.plus + e.offset
            if e.param == 0:
                i, j = e.entries // n_in, e.entries % n_in
                step = eps * h[e.plus, :, j]  # (units, batch)
                a[e.plus, :, i] += step
                a[minus, :, i] -= step
            else:
                a[e.plus, :, e.entries] += eps
                a[minus, :, e.entries] -= eps
        return Trace(h, a, a, self.act.value(a))

    def directed(self, h: Tensor, dirs: list[Direction], row_eps: Tensor, reps: int) -> Trace:
        # (h Uᵀ)_bi = c·r_i·(h·s): one matrix-vector product per row instead of a matrix.
        w = self.params[0]
        a = affine(h, w, self.params[1] if len(self.params) > 1 else None)
        d = dirs[0]
        assert d.s is not None
        hs = torch.einsum("pbi,pi->pb", h, d.s.repeat(reps, 1))
        step = d.c * hs[:, :, None] * d.r.repeat(reps, 1)[:, None, :]
        if len(dirs) > 1:
            step = step + dirs[1].c * dirs[1].r.repeat(reps, 1)[:, None, :]
        a = a + row_eps[:, None, None] * step
        return Trace(h, a, a, self.act.value(a))


class LayerNorm(Layer):
    """h = φ(z), z = γ ⊙ (a − mean(a)) / √(var(a) + ε) + β over the units of each sample,
    a = h_prev Wᵀ + b; γ and β are parameters (1 and 0 at init)."""

    kind = "layernorm"
    symbols = ("W", "b", "γ", "β")

    def trace(self, h: Tensor, params: Sequence[Tensor]) -> Trace:
        w, *rest = params
        b = rest[0] if len(rest) == 3 else None
        gamma, beta = rest[-2], rest[-1]
        a = affine(h, w, b)
        unit = F.layer_norm(a, a.shape[-1:], eps=LN_EPS)
        z = unit * _rowwise(gamma) + _rowwise(beta)
        return Trace(h, a, z, self.act.value(z), (unit,))

    def forward(self, h: Tensor) -> Trace:
        tr = self.trace(h, self.params)
        inv_std = torch.rsqrt(tr.a.var(dim=-1, unbiased=False, keepdim=True) + LN_EPS)
        tr.saved = (tr.saved[0], inv_std)
        return tr

    def backward(self, g_out: Tensor, tr: Trace, g_z: Tensor | None = None,
                 wants_input: bool = True) -> tuple[Tensor | None, list[Tensor], Tensor]:
        unit, inv_std = tr.saved
        gamma = self.params[-2]
        if g_z is None:
            g_z = self.act.backprop_(g_out, tr.z, tr.out)
        # z = γ⊙â + β: ∂E/∂γ = Σ_batch g_z⊙â, ∂E/∂β = Σ_batch g_z, ∂E/∂â = g_z⊙γ.
        g_gamma = (g_z * unit).sum(dim=0)
        g_beta = g_z.sum(dim=0)
        g_unit = g_z * gamma
        # â = (a − μ)/s: ∂E/∂a = (1/s)·(g − mean(g) − â⊙mean(g⊙â)), means over the units.
        delta = inv_std * (g_unit - g_unit.mean(dim=-1, keepdim=True)
                           - unit * (g_unit * unit).mean(dim=-1, keepdim=True))
        grads = [torch.mm(delta.t(), tr.h)]
        if len(self.params) == 4:
            grads.append(delta.sum(dim=0))
        grads += [g_gamma, g_beta]
        g_in = torch.mm(delta, self.params[0]) if wants_input else None
        return g_in, grads, delta


class Residual(Layer):
    """h = h_prev + f(h_prev), f another layer of the same input and output width."""

    kind = "residual"
    skips = True

    def __init__(self, inner: Layer) -> None:
        super().__init__(inner.act, inner.params, inner.names)
        self.inner = inner
        self.symbols = inner.symbols
        self.fast = inner.fast
        self.kind = f"residual-{inner.kind}" if inner.kind != "dense" else "residual"

    def _wrap(self, h: Tensor, inner: Trace) -> Trace:
        return Trace(h, inner.a, inner.z, h + inner.out, (inner.out, *inner.saved))

    @staticmethod
    def _inner_trace(tr: Trace) -> Trace:
        return Trace(tr.h, tr.a, tr.z, tr.saved[0], tr.saved[1:])

    def trace(self, h: Tensor, params: Sequence[Tensor]) -> Trace:
        return self._wrap(h, self.inner.trace(h, params))

    def forward(self, h: Tensor) -> Trace:
        return self._wrap(h, self.inner.with_params(self.params).forward(h))

    def backward(self, g_out: Tensor, tr: Trace, g_z: Tensor | None = None,
                 wants_input: bool = True) -> tuple[Tensor | None, list[Tensor], Tensor]:
        # ∂E/∂h_prev = ∂E/∂h (the skip) + the inner layer's own ∂E/∂h_prev.
        inner = self.inner.with_params(self.params)
        g_inner, grads, delta = inner.backward(g_out.clone(), self._inner_trace(tr), g_z, wants_input)
        g_in = None if g_inner is None else g_inner.add_(g_out)
        return g_in, grads, delta

    def perturbed(self, h: Tensor, base: Trace | None, edits: list[Edit], eps: float) -> Trace:
        inner_base = None if base is None else self._inner_trace(base)
        inner = self.inner.with_params(self.params)
        return self._wrap(h, inner.perturbed(h, inner_base, edits, eps))

    def directed(self, h: Tensor, dirs: list[Direction], row_eps: Tensor, reps: int) -> Trace:
        inner = self.inner.with_params(self.params)
        return self._wrap(h, inner.directed(h, dirs, row_eps, reps))

