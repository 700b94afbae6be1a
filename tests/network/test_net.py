"""Building the network (network/net.py): the shapes of weights, biases, inputs and targets,
and the meanfield init's variances."""

from __future__ import annotations

import pytest

from percgrad.network.net import build_net
from percgrad.spec.build import chain_spec
from percgrad.spec.run import Spec


def test_sizes_and_batch_give_the_expected_shapes():
    spec = Spec("multi", (3, 5, 4, 2), bias=True, batch=5, device="cpu", dtype="float64")
    net = build_net(spec)
    assert [tuple(w.shape) for w in net.weights] == [(5, 3), (4, 5), (2, 4)]
    assert [tuple(b.shape) for b in net.biases] == [(5,), (4,), (2,)]
    assert tuple(net.x.shape) == (5, 3)
    assert tuple(net.t.shape) == (5, 2)


# ---------------------------------------------------------------- the meanfield init


def test_meanfield_init_has_the_asked_variances() -> None:
    spec = chain_spec(depth=3, width=400, init="meanfield", sigma_w2=2.5, sigma_b2=0.3,
                      activation="tanh")
    net = build_net(spec)
    for layer in net.layers:
        assert float(layer.weight.var()) * 400 == pytest.approx(2.5, rel=0.02)
        assert layer.bias is not None and float(layer.bias.var()) == pytest.approx(0.3, rel=0.25)
