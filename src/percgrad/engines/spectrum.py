"""``vanish --spectrum``: the input–output Jacobian ∂h_L/∂x of one sample, multiplied out from
each layer's hand-derived Jacobian (checked against ``torch.func.jacrev``), its singular values,
and the mean and variance of their squares beside the closed forms free probability gives.

Layer Jacobians, for one sample (rows: outputs, columns: inputs):
    dense        h = φ(a), a = W h_prev + b:       diag(φ′(a)) W
    layer norm   h = φ(z), z = γ ⊙ â + β, â = (a − μ)/s, s = √(var(a) + ε):
                 diag(φ′(z)) diag(γ) (1/s)(I − 11ᵀ/N − â âᵀ/N) W
    residual     h = h_prev + f(h_prev):           I + J_f
and J = J_L ⋯ J_1.

Predictions (Pennington, Schoenholz and Ganguli 2017): with J = ∏ D_k W_k, D_k = diag(φ′(a_k)),
square layers and φ′ taken independent of W (free independence), the S-transform of JJᵀ is the
product of the layers'. For W with i.i.d. entries of variance σ_w²/N, S = 1/(σ_w²(1 + z)); for
σ_w² times an orthogonal matrix, 1/σ_w²; for D² with P(φ′² = 1) = p and 0 otherwise (identity:
p = 1; ReLU: p = ½), (1 + z)/(p + z). Reading the first two moments off S(z) = s₀ + s₁z + … —
mean m₁ = 1/s₀, variance −s₁/s₀³ — gives, with m₁ = ∏ σ_w,k² p:
    i.i.d. weights:       mean m₁, variance L·m₁²/p      (linear: L·m₁²; ReLU: 2L·m₁²)
    orthogonal weights:   mean m₁, variance L·m₁²(1 − p)/p  (linear: 0; ReLU: L·m₁²)
so a linear chain at σ_w² = 1 has mean 1 and variance L (Gaussian) or exactly 0 (orthogonal:
the product of orthogonal matrices is orthogonal), and ReLU's variance grows with L whatever the
weights: it cannot reach dynamical isometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.engines.meanfield import sigma_w2
from percgrad.engines.perceptron import Run
from percgrad.network.layers import Layer, Trace
from percgrad.network.net import Net
from percgrad.network.passes import forward
from percgrad.reports.phase import SpectrumReport
from percgrad.reports.run import Report
from percgrad.spec.run import Spec

SAMPLE = 0
"""The sample of the batch whose Jacobian is taken."""
TOLERANCE = 1e-9
"""Hand-derived J against jacrev's, both float64: only round-off may separate them."""
IID_INITS = ("normal", "pytorch", "xavier", "kaiming", "meanfield")
"""Inits with i.i.d. weight entries (Gaussian or uniform: the same spectrum at large N)."""
MIN_WIDTH = 8
"""Below this width the free-probability forms (N → ∞) are not shown."""
ON_PROBABILITY = {"identity": 1.0, "relu": 0.5}
"""p = P(φ′(a)² = 1) for activations whose φ′² is 1 or 0 (a symmetric about 0)."""
def layer_jacobian(layer: Layer, tr: Trace, sample: int = SAMPLE) -> Tensor:
    """∂out/∂h of one layer at one sample, (out, in): each layer kind derives its own."""
    return layer.jacobian(tr, sample)


def jacobian(net: Net, sample: int = SAMPLE) -> Tensor:
    """∂h_L/∂x of one sample: the layers' Jacobians multiplied from the input side."""
    fwd = forward(net)
    with torch.no_grad():
        total: Tensor | None = None
        for layer, tr in zip(net.layers, fwd.traces):
            j = layer_jacobian(layer, tr, sample)
            total = j if total is None else j @ total
    assert total is not None
    return total


def jacobian_autograd(net: Net, sample: int = SAMPLE) -> Tensor:
    """The same Jacobian by ``torch.func.jacrev`` of the network's forward on that sample."""
    from torch.func import jacrev

    def f(x: Tensor) -> Tensor:
        h = x[None, :]
        for layer in net.layers:
            h = layer.trace(h, layer.params).out
        return h[0]

    return jacrev(f)(net.x[sample].detach().clone())


@dataclass(frozen=True)
class Prediction:
    """The closed form of a spectrum's first two moments, or why there is none."""

    mean: float | None
    var: float | None
    rel_var: float | None
    kind: str
    reason: str


def predicted_moments(spec: Spec) -> Prediction:
    """Mean, variance and variance/mean² of the squared singular values where a closed form
    applies, the formula's name, and where it comes from (or why there is none)."""
    act, init = spec.activation, spec.init
    none = "none"
    if spec.arch != "plain":
        return Prediction(None, None, None, none, f"measured only: no closed form here for a "
                          f"{spec.arch} chain")
    if spec.sizes[-1] < MIN_WIDTH:
        return Prediction(None, None, None, none, (
            f"measured only: the closed forms describe the spread of many singular values (width "
            f"N → ∞); width {spec.sizes[-1]} has {spec.sizes[-1]} (try --width 64 or more)"))
    if len(set(spec.sizes)) != 1:
        return Prediction(None, None, None, none, "measured only: the closed forms are for square "
                          "layers (--inputs = --width)")
    if act not in ON_PROBABILITY:
        return Prediction(None, None, None, none, (
            f"measured only: {act}'s φ′² takes a continuum of values, whose S-transform has no "
            "closed form (the forms here are for identity and relu)"))
    if init not in (*IID_INITS, "orthogonal"):
        return Prediction(None, None, None, none, f"measured only: no closed form for --init {init}")
    p = ON_PROBABILITY[act]
    mean = math.prod(s * p for s in sigma_w2(spec))
    kind = "orthogonal" if init == "orthogonal" else "gaussian"
    rel = spec.depth * ((1.0 - p) / p if kind == "orthogonal" else 1.0 / p)
    name = "linear" if act == "identity" else act
    if rel == 0:
        how = "the product of orthogonal matrices is orthogonal: every σ = 1"
    else:
        form = "L·(1−p)/p" if kind == "orthogonal" else "L/p"
        how = (f"free probability: variance/mean² = {form} = {rel:g}, p = P(φ′ = 1) = {p:g} "
               "(φ′ taken independent of W; one sample's mean spreads around m₁)")
    return Prediction(mean, rel * mean * mean, rel, f"{name}-{kind}",
                      f"m₁ = ∏ σ_w²·p = {mean:.4g}; {how}")


def spectrum_of(spec: Spec, label: str | None = None) -> SpectrumReport:
    """The spectrum of ∂h_L/∂x for sample 0 of the chain ``spec`` draws, drawn again in float64
    (build_net draws in float64 before any cast, so these are the run's numbers unrounded: an
    orthogonal chain is then orthogonal to float64 round-off), checked against jacrev."""
    from percgrad.network.net import build_net
    from percgrad.runtime.device import resolve_device

    net = build_net(spec, resolve_device(spec.device), torch.float64)
    j = jacobian(net)
    ref = jacobian_autograd(net)
    scale = max(float(ref.abs().max()), torch.finfo(torch.float64).tiny)
    err = float((j - ref).abs().max()) / scale
    sv = torch.linalg.svdvals(j).cpu()
    sq = sv.double().square()
    pred = predicted_moments(spec)
    return SpectrumReport(
        sample=SAMPLE, singular_values=[float(s) for s in sv], mean_sq=float(sq.mean()),
        var_sq=float(sq.var(unbiased=False)), predicted_mean=pred.mean, predicted_var=pred.var,
        predicted_rel_var=pred.rel_var, prediction=pred.kind, reason=pred.reason,
        jacrev_rel_error=err, tolerance=TOLERANCE,
        depth=spec.depth, width=spec.sizes[-1], init=spec.init, sigma_w2=sigma_w2(spec)[-1],
        label=label,
    )


def add_spectrum(report: Report, run: Run) -> None:
    """Put the spectrum of a vanish run's chain on its report."""
    report.spectrum = spectrum_of(run.spec, report.label)


def add_spectrum_of_spec(report: Report, spec: Spec) -> None:
    """The same for a run known by its spec (one of ``vanish --compare``'s)."""
    report.spectrum = spectrum_of(spec, report.label)
