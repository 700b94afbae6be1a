"""The skip connection: h = h_prev + f(h_prev), around a layer of any kind."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from percgrad.network.layers.base import Direction, Edit, Layer, Trace


class Residual(Layer):
    """h = h_prev + f(h_prev), f another layer of the same input and output width. Its
    mean-field map is theory's ``Skip`` around the inner kind's (see registry.meanfield_maps)."""

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

    def jacobian(self, tr: Trace, sample: int) -> Tensor:
        # ∂(h + f(h))/∂h = I + J_f
        j = self.inner.with_params(self.params).jacobian(self._inner_trace(tr), sample)
        return j + torch.eye(j.shape[0], dtype=j.dtype, device=j.device)

    def perturbed(self, h: Tensor, base: Trace | None, edits: list[Edit], eps: float) -> Trace:
        inner_base = None if base is None else self._inner_trace(base)
        inner = self.inner.with_params(self.params)
        return self._wrap(h, inner.perturbed(h, inner_base, edits, eps))

    def directed(self, h: Tensor, dirs: list[Direction], row_eps: Tensor, reps: int) -> Trace:
        inner = self.inner.with_params(self.params)
        return self._wrap(h, inner.directed(h, dirs, row_eps, reps))
