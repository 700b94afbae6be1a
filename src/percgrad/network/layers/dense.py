"""The dense layer: h = φ(h_prev Wᵀ + b)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from percgrad.network.layers.base import Direction, Edit, Layer, Trace, affine
from percgrad.network.layers.registry import register


@register("none")
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

    def jacobian(self, tr: Trace, sample: int) -> Tensor:
        # ∂φ(Wh + b)/∂h = diag(φ′(a)) W
        return self.dphi(tr, sample)[:, None] * self.weight

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
