"""vanish --spectrum at engine level (engines/spectrum.py): the hand-derived input–output
Jacobian against torch.func.jacrev for dense, residual and layer-normed chains, the spectra of
linear chains (orthogonal: variance 0; Gaussian at σ_w² = 1: variance ≈ L), ReLU at σ_w² = 2,
the closed forms, the API and JSON."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

import percgrad
from percgrad.engines.spectrum import jacobian, jacobian_autograd, predicted_moments, spectrum_of
from percgrad.network.net import build_net
from percgrad.spec.build import chain_spec


@pytest.mark.parametrize(("arch", "activation"), [
    ({}, "tanh"), ({}, "relu"), ({"residual": True}, "tanh"), ({"norm": "layer"}, "gelu"),
    ({"residual": True, "norm": "layer"}, "sigmoid"), ({"inputs": 5}, "elu"),
])
def test_hand_derived_jacobian_matches_jacrev(arch: dict, activation: str) -> None:
    spec = chain_spec(depth=4, width=7, activation=activation, sigma_w2=1.7, sigma_b2=0.2,
                      batch=3, seed=4, **arch)
    net = build_net(spec, "cpu", torch.float64)
    if "norm" in arch:  # γ and β away from 1 and 0, so that their terms are tested
        for layer in net.layers:
            layer.params[-2].uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(1))
            layer.params[-1].uniform_(-0.3, 0.3, generator=torch.Generator().manual_seed(2))
    j, ref = jacobian(net), jacobian_autograd(net)
    assert j.shape == (7, arch.get("inputs", 7))
    assert float((j - ref).abs().max()) <= 1e-12 * float(ref.abs().max())


def test_a_jacobian_of_another_sample_differs() -> None:
    # The check can fail: sample 1's Jacobian is not sample 0's.
    net = build_net(chain_spec(depth=3, width=6, activation="tanh", batch=2), "cpu", torch.float64)
    assert float((jacobian(net, 1) - jacobian_autograd(net, 0)).abs().max()) > 1e-3


def test_orthogonal_linear_chain_is_an_isometry() -> None:
    sp = spectrum_of(chain_spec(depth=12, width=48, activation="identity", init="orthogonal"))
    assert sp.predicted_var == 0 and sp.prediction == "linear-orthogonal"
    assert sp.mean_sq == pytest.approx(1.0, abs=1e-12)
    assert sp.var_sq < 1e-24
    assert max(sp.singular_values) - min(sp.singular_values) < 1e-12


def test_gaussian_linear_chain_variance_is_about_depth() -> None:
    # Free probability: variance of σ² = L at σ_w² = 1 (N → ∞). Band: the mean over 4 seeds at
    # N = 256, L = 8 within ±20% of L (one seed's spread is about 10%).
    depth = 8
    spectra = [spectrum_of(chain_spec(depth=depth, width=256, activation="identity",
                                      sigma_w2=1.0, seed=s)) for s in range(4)]
    assert spectra[0].predicted_var == depth and spectra[0].predicted_mean == 1.0
    assert 0.8 * depth <= statistics.mean(sp.var_sq for sp in spectra) <= 1.2 * depth
    assert statistics.mean(sp.mean_sq for sp in spectra) == pytest.approx(1.0, abs=0.1)


def test_relu_at_sigma_w2_two() -> None:
    # Mean m₁ = (σ_w²/2)^L = 1; variance/mean² = L/p = 2L (Gaussian), L(1−p)/p = L (orthogonal).
    # One sample's mean spreads, so the ratio is compared; band: mean over 5 seeds within ±35%.
    depth = 5
    gauss = [spectrum_of(chain_spec(depth=depth, width=128, activation="relu", sigma_w2=2.0,
                                    seed=s)) for s in range(5)]
    ortho = [spectrum_of(chain_spec(depth=depth, width=128, activation="relu", init="orthogonal",
                                    gain=2**0.5, seed=s)) for s in range(5)]
    assert gauss[0].predicted_mean == pytest.approx(1.0) and gauss[0].predicted_rel_var == 2 * depth
    assert ortho[0].predicted_rel_var == pytest.approx(depth)
    for spectra, expected in ((gauss, 2 * depth), (ortho, depth)):
        rel = statistics.mean(sp.rel_var or 0.0 for sp in spectra)
        assert 0.65 * expected <= rel <= 1.35 * expected
        assert statistics.mean(sp.mean_sq for sp in spectra) == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize(("kw", "why"), [
    ({"activation": "tanh"}, "continuum"), ({"activation": "identity", "residual": True}, "residual"),
    ({"activation": "relu", "inputs": 3}, "square"), ({"activation": "relu", "width": 4}, "width 4"),
])
def test_measured_only_says_why(kw: dict, why: str) -> None:
    pred = predicted_moments(chain_spec(depth=3, **{"width": 16, **kw}))
    assert pred.mean is None and pred.kind == "none" and why in pred.reason


def test_api_and_json() -> None:
    report = percgrad.vanish(depth=6, width=16, activation="identity", init="orthogonal",
                             spectrum=True)
    assert report.spectrum is not None and len(report.spectrum.singular_values) == 16
    doc = json.loads(report.to_json())
    assert doc["spectrum"]["prediction"] == "linear-orthogonal" and doc["spectrum"]["passed"]
