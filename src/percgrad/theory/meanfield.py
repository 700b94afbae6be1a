"""Mean-field predictions of gradient flow through a deep chain, composed layer by layer (NumPy only).

With weights of variance σ_w²/fan_in and biases of variance σ_b², a pre-activation of layer k
is approximately N(0, q_k), with q₁ = σ_w²·E[x²] + σ_b² and q_{k+1} = σ_w²·E[φ(h)²] + σ_b².
Back-propagation multiplies ‖δ‖² by χ_k = σ_w²·E[φ′(h)²] per layer (h ~ N(0, q_k)): χ < 1
vanishes, χ > 1 explodes, χ = 1 is the edge of chaos (Poole et al. 2016, Schoenholz et al. 2017).

Each layer kind brings its own map (``LayerMap``): how it moves the forward statistics and how
much of ‖∂E/∂h‖² reaches its δ. ``predict`` composes the maps of a chain, as neural-tangents'
``stax.serial`` composes kernels; ``Skip`` wraps any map in a skip connection. The dense map is
``PLAIN``; layer norm's lives with its layer (percgrad.network.layers.layernorm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from percgrad.theory.flow import depth_scale
from percgrad.theory.moments import mean_phi, moments


@dataclass(frozen=True)
class Signal:
    """The forward signal after a layer: its mean square p = E[h²] and mean μ = E[h]."""

    p: float
    mean: float


@dataclass(frozen=True)
class Step:
    """What one layer does, in mean-field terms."""

    q: float
    """Variance of its pre-activation a = W h + b."""
    v: float
    """Variance of φ's input (q, or what a normalisation makes of it)."""
    out: Signal
    """The signal it passes on."""
    r: float
    """E‖δ‖² / E‖∂E/∂h‖²: how much of the gradient at its output reaches its δ."""


class LayerMap(Protocol):
    """A layer kind's mean-field map."""

    def meanfield(self, activation: str, sigma_w2: float, sigma_b2: float, signal: Signal,
                  width: int | None) -> Step:
        """The layer's step from the signal it receives (``width``: its units, None if unknown)."""
        ...

    def chi(self, sigma_w2: float, r_below: float, r_self: float) -> float:
        """‖δ_below‖² / ‖δ_self‖²: the factor per layer from this layer's δ to the one below."""
        ...


def div(a: float, b: float) -> float:
    """a / b in IEEE arithmetic: inf or NaN on a zero divisor instead of ZeroDivisionError."""
    return float(np.float64(a) / np.float64(b))


def phi_step(activation: str, q: float, v: float, gain: float | None = None) -> Step:
    """The step of φ applied to an input of variance ``v`` (from a of variance ``q``): its output
    statistics and r = E[φ′²] (times ``gain`` when a normalisation rescales δ)."""
    e_phi2, e_dphi2 = moments(activation, v)
    m = mean_phi(activation, v)
    return Step(q, v, Signal(e_phi2, m), e_dphi2 if gain is None else e_dphi2 * gain)


class Plain:
    """h = φ(W h_prev + b): q = σ_w² p + σ_b², r = E[φ′(h)²], χ = σ_w² r_below."""

    def meanfield(self, activation: str, sigma_w2: float, sigma_b2: float, signal: Signal,
                  width: int | None) -> Step:
        """The dense layer's step."""
        q = sigma_w2 * signal.p + sigma_b2
        return phi_step(activation, q, q)

    def chi(self, sigma_w2: float, r_below: float, r_self: float) -> float:
        """E‖W_kᵀδ‖² = σ_w² ‖δ‖² for any shape, then r of the layer below."""
        return sigma_w2 * r_below


PLAIN = Plain()


@dataclass(frozen=True)
class Skip:
    """h = h_prev + f(h_prev) around any map f: μ_k = μ_{k−1} + m_k, p_k = p_{k−1} + 2 μ_{k−1} m_k
    + s_k (h_{k−1,i} and a_{k,i} are independent to leading order in 1/N); backward
    ‖g_{k−1}‖² = (1 + σ_w² r_k) ‖g_k‖² (the cross term averages to 0), so χ gains r_below/r_self."""

    inner: LayerMap

    def meanfield(self, activation: str, sigma_w2: float, sigma_b2: float, signal: Signal,
                  width: int | None) -> Step:
        """The inner layer's step, its output added to the signal it received."""
        step = self.inner.meanfield(activation, sigma_w2, sigma_b2, signal, width)
        m_k, s_k = step.out.mean, step.out.p
        out = Signal(signal.p + 2.0 * signal.mean * m_k + s_k, signal.mean + m_k)
        return Step(step.q, step.v, out, step.r)

    def chi(self, sigma_w2: float, r_below: float, r_self: float) -> float:
        """The inner layer's factor plus the skip's r_below / r_self."""
        return self.inner.chi(sigma_w2, r_below, r_self) + div(r_below, r_self)


@dataclass
class Theory:
    """Per-layer predictions: q_k (pre-activation variance) and χ_k (factor ‖δ_k‖²/‖δ_{k+1}‖²)."""

    sigma_w2: list[float]
    sigma_b2: list[float]
    q: list[float]
    chi: list[float]
    """χ_k for k = 1..D−1: predicted ‖δ_k‖² / ‖δ_{k+1}‖², whatever the architecture."""
    p: list[float] = field(default_factory=list)
    """Mean square E[h_k²] of each layer's output."""
    mean: list[float] = field(default_factory=list)
    """Mean E[h_k] of each layer's output."""
    v: list[float] = field(default_factory=list)
    """Variance of φ's input: q_k, or what a normalisation makes of it."""

    @property
    def mean_chi(self) -> float | None:
        """Geometric mean of χ over the layers (None for a single layer)."""
        good = [c for c in self.chi if c > 0 and math.isfinite(c)]
        if not good:
            return None
        return math.exp(sum(math.log(c) for c in good) / len(good))

    @property
    def depth_scale(self) -> float | None:
        """1/|ln χ̄|: layers over which ‖δ‖² changes by e (None at the edge of chaos)."""
        return depth_scale(self.mean_chi).layers


def predict(
    activation: str,
    sigma_w2: list[float],
    sigma_b2: list[float],
    q_in: float,
    layers: Sequence[LayerMap] | None = None,
    *,
    mean_in: float = 0.0,
    width: int | None = None,
) -> Theory:
    """Compose the layers' maps over a chain, from the input's mean square ``q_in`` and mean
    ``mean_in`` (huge gains give infinite or NaN q and χ, never an error).

    ``layers`` holds one map per layer (None: every layer dense, ``PLAIN``); Var(W_k) =
    σ_w,k²/fan_in, Var(b_k) = σ_b,k². Forward, from p_0 = q_in and μ_0 = mean_in, each map
    gives q_k, the variance v_k of φ's input, the signal (p_k, μ_k) it passes on, and r_k =
    E‖δ_k‖²/E‖g_k‖² with g_k = ∂E/∂h_k. Backward, under the gradient-independence assumption
    (g_k independent of the forward pass of layer k), the map of layer k+1 turns r_k and r_{k+1}
    into χ_k = ‖δ_k‖²/‖δ_{k+1}‖²: σ_w,k+1² r_k for a dense layer (exactly the classical
    χ_k = σ_w,k+1² E[φ′(h)²] at h ~ N(0, q_k)), plus r_k / r_{k+1} with a skip connection.
    """
    maps = list(layers) if layers is not None else [PLAIN] * len(sigma_w2)
    if len(maps) != len(sigma_w2):
        raise ValueError(f"{len(maps)} layer maps for {len(sigma_w2)} layers")
    if width is not None and width < 1:
        raise ValueError(f"width must be a positive number of units, not {width}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        signal = Signal(q_in, mean_in)
        steps = []
        for k, layer in enumerate(maps):
            step = layer.meanfield(activation, sigma_w2[k], sigma_b2[k], signal, width)
            steps.append(step)
            signal = step.out
        chi = [maps[k + 1].chi(sigma_w2[k + 1], steps[k].r, steps[k + 1].r)
               for k in range(len(maps) - 1)]
    return Theory(list(sigma_w2), list(sigma_b2), [s.q for s in steps], chi,
                  p=[s.out.p for s in steps], mean=[s.out.mean for s in steps], v=[s.v for s in steps])
