"""Mean-field theory for a spec's chain (engines/meanfield.py): σ_w² and σ_b² per layer under its
init, and the prediction composed over its layers."""

from __future__ import annotations

import pytest

from percgrad.engines.meanfield import sigma_b2, sigma_w2, theory_for
from percgrad.spec.build import chain_spec
from percgrad.theory.meanfield import predict


def test_sigma_w2_per_init() -> None:
    spec = chain_spec(depth=4, width=16, activation="relu", init="kaiming", device="cpu")
    assert sigma_w2(spec) == pytest.approx([2.0] * 4)
    assert sigma_w2(spec, init="normal") == pytest.approx([16.0] * 4)  # N(0, 1) at fan-in 16
    assert sigma_w2(spec, init="xavier", activation="tanh") == pytest.approx([1.0] * 4)
    assert sigma_b2(spec) == [0.0] * 4  # no bias
    meanfield = chain_spec(depth=3, width=8, init="meanfield", sigma_w2=1.5, sigma_b2=0.2, device="cpu")
    assert sigma_w2(meanfield) == pytest.approx([1.5] * 3)
    assert sigma_b2(meanfield) == pytest.approx([0.2] * 3)


def test_theory_for_a_plain_chain_is_the_classical_prediction() -> None:
    spec = chain_spec(depth=5, width=32, activation="tanh", init="xavier", device="cpu")
    th = theory_for(spec, 1.0)
    assert len(th.chi) == 4
    plain = predict("tanh", sigma_w2(spec), sigma_b2(spec), 1.0)
    assert th.q == pytest.approx(plain.q) and th.chi == pytest.approx(plain.chi)
    assert theory_for(spec, 1.0, activation="relu", init="kaiming").chi == pytest.approx([1.0] * 4)
