"""The layer-normed layer: h = φ(γ ⊙ LN(h_prev Wᵀ + b) + β)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from percgrad.catalog import LN_EPS
from percgrad.network.functions import Activation
from percgrad.network.layers.base import Layer, Trace, affine, rowwise
from percgrad.network.layers.registry import register
from percgrad.theory.meanfield import Signal, Step, div, phi_step


def ln_gain(q: float, width: int) -> float:
    """E‖δ‖² / (E[φ′²]·‖g‖²) through a layer norm over ``width`` units with a of variance q.

    The backward of LN is J = (1/σ)(C − (var/σ²) ĉĉᵀ), σ² = var + ε, C the centring projector and
    ĉ the unit centred a, i.e. (for ε ≪ var) 1/σ times the projector P onto the N − 2 dimensions
    orthogonal to 1 and ĉ. For u = φ′ ⊙ g with g independent, E‖Pu‖² = (1 − 2/N) ‖u‖², exactly
    for piecewise-linear φ (and up to (1 − κ)/N with κ = E[y² φ′(y)²] / (v E[φ′(y)²]) for smooth
    φ). And 1/σ² is not 1/(q + ε): with a's N entries independent N(0, q), N var / q ~ χ²_{N−1}
    independently of ĉ, so E[1/var] = N / ((N − 3) q) — hence (N − 2)/((N − 3) q + N ε) (exact for
    ε = 0; ε only matters where q ≲ ε). Without bias σ_w² then cancels from χ = σ_w² r of a
    layer-normalised plain chain (up to ε): χ ≈ d (N − 2) / ((N − 3) s) with d, s at v ≈ 1, which
    for ReLU is (N − 2)/(N − 3). Fluctuations of p from sample to sample add further O(1/N) terms
    that this mean-field recursion leaves out.
    """
    if width <= 2:
        return 0.0  # LN of 1 or 2 units is constant: no gradient passes
    return div(width - 2.0, (width - 3.0) * q + width * LN_EPS)


@register("layer")
class LayerNorm(Layer):
    """h = φ(z), z = γ ⊙ (a − mean(a)) / √(var(a) + ε) + β over the units of each sample,
    a = h_prev Wᵀ + b; γ and β are parameters (1 and 0 at init)."""

    kind = "layernorm"
    symbols = ("W", "b", "γ", "β")

    @classmethod
    def create(cls, act: Activation, weight: Tensor, bias: Tensor | None) -> Layer:
        """W (and b), then γ = 1 and β = 0 per unit."""
        ones = torch.ones(weight.shape[0], device=weight.device, dtype=weight.dtype)
        params = [weight] + ([] if bias is None else [bias]) + [ones, torch.zeros_like(ones)]
        return cls(act, params, ["W"] + ([] if bias is None else ["b"]) + ["γ", "β"])

    @classmethod
    def meanfield(cls, activation: str, sigma_w2: float, sigma_b2: float, signal: Signal,
                  width: int | None) -> Step:
        """φ's input has variance q/(q + ε) (γ = 1, β = 0); δ is divided by the spread of a."""
        if width is None:
            raise ValueError("layer norm's mean-field map needs the width N of the layers (the norm "
                             "is over N units)")
        q = sigma_w2 * signal.p + sigma_b2
        return phi_step(activation, q, div(q, q + LN_EPS), ln_gain(q, width))

    def trace(self, h: Tensor, params: Sequence[Tensor]) -> Trace:
        w, *rest = params
        b = rest[0] if len(rest) == 3 else None
        gamma, beta = rest[-2], rest[-1]
        a = affine(h, w, b)
        unit = F.layer_norm(a, a.shape[-1:], eps=LN_EPS)
        z = unit * rowwise(gamma) + rowwise(beta)
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

    def jacobian(self, tr: Trace, sample: int) -> Tensor:
        # ∂z/∂a = γ ⊙ (1/s)(I − 11ᵀ/N − ââᵀ/N), then φ′ and W.
        w = self.weight
        unit, inv_std = tr.saved[0][sample], tr.saved[1][sample]
        n = unit.shape[0]
        eye = torch.eye(n, dtype=w.dtype, device=w.device)
        norm = inv_std * (eye - 1.0 / n - torch.outer(unit, unit) / n)
        return (self.dphi(tr, sample) * self.params[-2])[:, None] * (norm @ w)
