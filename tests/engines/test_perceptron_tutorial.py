"""The two listings of the tutorial (/work/shared/seed), reproduced with plain torch, and
percgrad given the same numbers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from percgrad.engines import perceptron as experiment
from percgrad.network.functions import ACTIVATIONS, LOSSES
from percgrad.network.net import build_net
from percgrad.network.passes import analytic_backward, forward
from percgrad.spec.run import Spec

SEEDS = [0, 1, 2023]


@pytest.fixture(autouse=True)
def _own_rng():
    """The listings seed torch's global generator; keep that from leaking into other tests."""
    with torch.random.fork_rng():
        yield


def _listing_one(seed: int):
    """The single neuron: o = σ(x·wᵀ), E = mse(o, 1); returns x, w, w.grad and the formula."""
    torch.manual_seed(seed)
    target = torch.ones(1, 1)
    x = torch.randn(1, 3)
    w = torch.randn(1, 3, requires_grad=True)
    a = torch.matmul(x, w.T)
    o = torch.sigmoid(a)
    loss = F.mse_loss(o, target)
    loss.backward()
    with torch.no_grad():
        formula = 2 * (o - target) * o * (1 - o) * x
    return x, w.detach(), w.grad.clone(), formula, loss.item()


def _listing_two(seed: int):
    """The layer: o = σ(W x) with W 4×3, x 3×1; the matrix formula c/2.0 and w.grad."""
    torch.manual_seed(seed)
    x = torch.randn(3, 1)
    w = torch.randn(4, 3, requires_grad=True)
    a = torch.matmul(w, x)
    o = torch.sigmoid(a)
    t = torch.ones(4, 1)
    loss = F.mse_loss(o, t)
    z = o - t
    with torch.no_grad():
        c = torch.matmul(torch.multiply(torch.multiply(o, 1.0 - o), z), x.T)
    loss.backward()
    return x, w.detach(), w.grad.clone(), c / 2.0, loss.item()


@pytest.mark.parametrize("seed", SEEDS)
def test_single_neuron_formula_equals_autograd(seed):
    _, _, grad, formula, _ = _listing_one(seed)
    torch.testing.assert_close(formula, grad, rtol=1e-5, atol=1e-7)
    assert float(grad.abs().max()) > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_single_neuron_percgrad_gives_the_tutorial_gradient(seed):
    x, w, grad, formula, loss = _listing_one(seed)
    spec_kw = dict(x=(tuple(x[0].tolist()),), w=tuple(w[0].tolist()), device="cpu")

    # float32, as the tutorial computes: the same gradient as its autograd.
    report = experiment.run(Spec("single", (3, 1), dtype="float32", **spec_kw))
    layer = report.layers[0]
    assert layer.weight.tolist() == w.double().tolist()
    assert report.input.tolist() == x.double().tolist()
    assert report.loss == pytest.approx(loss, rel=1e-6)
    analytic = torch.from_numpy(layer.grad.analytic)
    torch.testing.assert_close(analytic, grad.double(), rtol=1e-5, atol=1e-7)
    assert report.check.passed is True

    # float64: the formula 2(o−t)·o(1−o)·x evaluated in float64 on the same numbers.
    report64 = experiment.run(Spec("single", (3, 1), dtype="float64", **spec_kw))
    x64, w64 = x.double(), w.double()
    o64 = torch.sigmoid(x64 @ w64.T)
    expected = 2 * (o64 - 1.0) * o64 * (1 - o64) * x64
    torch.testing.assert_close(
        torch.from_numpy(report64.layers[0].grad.analytic), expected, rtol=1e-12, atol=1e-15
    )
    torch.testing.assert_close(expected.float(), formula, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("seed", SEEDS)
def test_matrix_formula_equals_autograd(seed):
    _, _, grad, half_c, _ = _listing_two(seed)
    # 2/n = 1/2 for n = 4 outputs: the tutorial's c/2.0 is exactly ∂E/∂W.
    torch.testing.assert_close(half_c, grad, rtol=1e-5, atol=1e-7)
    assert float(grad.abs().max()) > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_multi_percgrad_gives_the_tutorial_matrix(seed, dtype):
    x, w, grad, half_c, loss = _listing_two(seed)
    # percgrad's rows are samples: its x is (batch, in) = the tutorial's xᵀ; W is (out, in).
    spec = Spec("multi", (3, 4), x=(tuple(x[:, 0].tolist()),), device="cpu")
    net = build_net(spec, "cpu", dtype)
    assert torch.equal(net.x, x.T.to(dtype))
    assert tuple(net.weights[0].shape) == tuple(w.shape)
    net.layers[0].params[0] = w.to(dtype).clone()
    assert net.layers[0].act is ACTIVATIONS["sigmoid"] and net.loss is LOSSES["mse"]
    fwd = forward(net)
    assert float(fwd.loss) == pytest.approx(loss, rel=1e-6)
    analytic = analytic_backward(net, fwd).weights[0]
    torch.testing.assert_close(analytic.float(), grad, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(analytic.float(), half_c, rtol=1e-5, atol=1e-7)
    if dtype == torch.float64:
        # The tutorial's formula, in float64 on the same numbers, to round-off.
        x64, w64 = x.double(), w.double()
        o = torch.sigmoid(w64 @ x64)
        c = ((o - 1.0) * o * (1 - o)) @ x64.T
        torch.testing.assert_close(analytic, c / 2.0, rtol=1e-12, atol=1e-15)
