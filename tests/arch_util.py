"""Theory's prediction for a named architecture, as the engines compose it: the registry's
mean-field map of each layer (a skip from layer ``residual_from`` on, 1-based)."""

from __future__ import annotations

from percgrad import catalog
from percgrad.network.layers import meanfield_maps
from percgrad.theory.meanfield import Theory, predict


def predict_arch(activation: str, sigma_w2: list[float], sigma_b2: list[float], q_in: float,
                 arch: str = "plain", *, mean_in: float = 0.0, width: int | None = None,
                 residual_from: int = 1) -> Theory:
    """``predict`` over the layer maps of ``arch`` (one of catalog.archs())."""
    if arch not in catalog.archs():
        raise ValueError(f"unknown architecture {arch!r}: expected one of {', '.join(catalog.archs())}")
    if residual_from < 1:
        raise ValueError(f"residual_from is the 1-based index of a layer, not {residual_from}")
    residual, norm = catalog.arch_fields(arch)
    skips = [residual and k + 1 >= residual_from for k in range(len(sigma_w2))]
    return predict(activation, sigma_w2, sigma_b2, q_in, meanfield_maps(norm, skips), mean_in=mean_in,
                   width=width)
