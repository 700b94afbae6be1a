"""What mean-field theory predicts for a spec's chain: σ_w² and σ_b² per layer under its init,
and the composed prediction over its layers' maps (each layer kind brings its own)."""

from __future__ import annotations

from percgrad.network.layers import meanfield_maps
from percgrad.network.net import bias_std, weight_std
from percgrad.spec.run import Spec
from percgrad.theory.meanfield import Theory, predict


def sigma_w2(spec: Spec, init: str | None = None, activation: str | None = None) -> list[float]:
    """fan_in · Var(W_k) for every layer under the init (the spec's unless given)."""
    init = init or spec.init
    act = activation or spec.activation
    stds = [weight_std(init, spec.gain, act, i, o, spec.sigma_w2)
            for i, o in zip(spec.sizes[:-1], spec.sizes[1:])]
    return [fan_in * sd * sd for fan_in, sd in zip(spec.sizes[:-1], stds)]  # sd**2 overflows


def sigma_b2(spec: Spec, init: str | None = None) -> list[float]:
    """Var(b_k) for every layer (zero without bias)."""
    init = init or spec.init
    stds = [bias_std(init, spec.gain, fan_in, spec.sigma_b2) if spec.bias else 0.0
            for fan_in in spec.sizes[:-1]]
    return [sd * sd for sd in stds]


def theory_for(spec: Spec, q_in: float, init: str | None = None,
               activation: str | None = None, mean_in: float = 0.0) -> Theory:
    """The mean-field prediction for ``spec`` (optionally with another init or activation)."""
    maps = meanfield_maps(spec.norm, [spec.residual_at(k) for k in range(spec.depth)])
    return predict(
        activation or spec.activation, sigma_w2(spec, init, activation), sigma_b2(spec, init), q_in,
        maps, mean_in=mean_in, width=min(spec.sizes[1:]),
    )
