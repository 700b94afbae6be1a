"""Finite differences over a network's parameters (gradcheck/network.py): full and fast checks,
chunking, kink flags."""

from __future__ import annotations

import pytest
import torch

from percgrad.gradcheck import network as numeric
from percgrad.network.functions import ACTIVATIONS, LOSSES
from percgrad.network.layers import Dense
from percgrad.network.net import Net
from percgrad.network.passes import analytic_backward, forward
from percgrad.spec.run import Spec

TOL = 1e-6


def _spec(activation="sigmoid", loss="mse", sizes=(3, 4, 2), bias=True, batch=3, seed=2):
    return Spec("multi", sizes, activation=activation, loss=loss, bias=bias, batch=batch,
                seed=seed, device="cpu", dtype="float64", target=(0.4,))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize(
    ("activation", "loss"),
    [("sigmoid", "mse"), ("sigmoid", "bce"), ("tanh", "mse"), ("gelu", "mse"),
     ("identity", "mse"), ("relu", "mse")],
)
def test_full_gradients_agree_with_autograd(activation, loss, bias, batch, passes, rel_err):
    p = passes(_spec(activation, loss, bias=bias, batch=batch))
    num = numeric.full_gradients(p.net)
    assert isinstance(num, numeric.FullGradients)
    assert 0 < num.noise < 1e-6
    for k in range(p.net.depth):
        assert num.names[k] == (("W", "b") if bias else ("W",))
        for g_num, g_ag, kinks, sym in zip(num.params[k], p.autograd.params[k], num.kinks[k],
                                           num.names[k]):
            assert kinks.shape == g_num.shape == g_ag.shape
            assert kinks.dtype == torch.bool
            keep = ~kinks
            assert rel_err(g_num[keep], g_ag[keep]) <= TOL, f"{sym}{k + 1}"
    assert any(float(g.abs().max()) > 1e-4 for g in num.weights)


def test_full_gradients_detect_a_perturbed_gradient(passes, rel_err):
    """The comparison above can fail: a gradient off by 1e-4 is far outside the tolerance."""
    p = passes(_spec("tanh"))
    num = numeric.full_gradients(p.net)
    wrong = p.autograd.weights[1].clone()
    wrong[0, 0] *= 1 + 1e-4
    assert rel_err(num.weights[1], wrong) > 10 * TOL


def test_full_gradients_report_progress(passes):
    p = passes(_spec("tanh"))
    seen: list[tuple[int, int]] = []
    numeric.full_gradients(p.net, progress=lambda d, t: seen.append((d, t)))
    params = sum(w.numel() + b.numel() for w, b in zip(p.net.weights, p.net.biases))
    assert seen
    done, total = seen[-1]
    assert done == total  # finished
    assert total >= params and total % params == 0  # every parameter (at every step size)
    assert all(t == total for _, t in seen)
    assert [d for d, _ in seen] == sorted({d for d, _ in seen})  # strictly increasing


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
def test_fast_projections_agree(activation, bias, passes):
    p = passes(_spec(activation, bias=bias, seed=4))
    num = numeric.fast_gradients(p.net, [p.analytic, p.autograd], seed=4)
    table = num.projections
    assert isinstance(num, numeric.FastProjections)
    assert table.shape == (numeric.FAST_DIRECTIONS, 3)
    assert num.kinks.shape == (numeric.FAST_DIRECTIONS,)
    scale = float(table.abs().max())
    assert scale > 0
    for d in range(table.shape[0]):
        if bool(num.kinks[d]):
            continue
        n_val, a_val, g_val = (float(v) for v in table[d])
        assert abs(n_val - a_val) <= TOL * max(abs(n_val), abs(a_val)), d
        assert abs(a_val - g_val) <= 1e-12 * scale, d
    # Column 1 really is uᵀ∇: recompute it from the directions themselves, materialised.
    shapes = [p_.shape for p_ in p.net.parameters()]
    dirs = numeric.directions(shapes, numeric.FAST_DIRECTIONS, 4, "cpu")
    expected = torch.zeros(numeric.FAST_DIRECTIONS, dtype=torch.float64)
    for d, g, shape in zip(dirs, numeric.flat_groups(p.analytic), shapes):
        expected += (d.dense(shape) * g).flatten(1).sum(dim=1)
    torch.testing.assert_close(table[:, 1], expected, rtol=1e-12, atol=1e-15)


def test_fast_directions_are_unit_vectors(passes):
    p = passes(_spec(bias=True))
    shapes = [p_.shape for p_ in p.net.parameters()]
    total = sum(s.numel() for s in shapes)
    squares = torch.zeros(numeric.FAST_DIRECTIONS, dtype=torch.float64)
    for d, shape in zip(numeric.directions(shapes, numeric.FAST_DIRECTIONS, 0, "cpu"), shapes):
        u = d.dense(shape)
        assert u.shape == (numeric.FAST_DIRECTIONS, *shape)
        assert torch.allclose(u.abs(), torch.full_like(u, total**-0.5))
        squares += u.square().flatten(1).sum(dim=1)
    torch.testing.assert_close(squares, torch.ones_like(squares))


@pytest.mark.parametrize("per_chunk", [1, 5])
def test_chunking_gives_the_same_numbers(per_chunk, passes, monkeypatch):
    p = passes(_spec("tanh", sizes=(3, 4, 2), batch=2))
    default = numeric.full_gradients(p.net)

    chunks: list[list[int]] = []
    real = numeric.NetObjective.entry_losses

    def spy(self, segments, eps):
        chunks.append([self.groups[s.group][0] for s in segments])
        return real(self, segments, eps)

    per_row = p.net.x.shape[0] * max(max(w.shape) for w in p.net.weights) * 8 * 4
    monkeypatch.setattr(numeric, "CHUNK_BYTES", per_chunk * 2 * per_row)
    monkeypatch.setattr(numeric.NetObjective, "entry_losses", spy)
    assert numeric.NetObjective(p.net).units_per_chunk() == per_chunk
    chunked = numeric.full_gradients(p.net)

    total = sum(w.numel() + b.numel() for w, b in zip(p.net.weights, p.net.biases))  # 16 + 10
    distinct = {tuple(c) for c in chunks}
    assert len(chunks) % -(-total // per_chunk) == 0  # ceil(total / per_chunk) chunks per pass
    assert len(distinct) > 1
    if per_chunk > 1:
        assert any(len(set(layers)) > 1 for layers in chunks), "no chunk spans two layers"
    for k in range(p.net.depth):
        for mine, ref in zip(chunked.params[k], default.params[k]):
            torch.testing.assert_close(mine, ref, rtol=1e-9, atol=1e-12)
        for mine, ref in zip(chunked.kinks[k], default.kinks[k]):
            assert torch.equal(mine, ref)


def _kinked_net(bias: bool) -> Net:
    """Two relu layers where unit 0 of layer 1 has pre-activation exactly 0."""
    f64 = torch.float64
    x = torch.tensor([[1.0, 2.0]], dtype=f64)
    w1 = torch.tensor([[2.0, -1.0], [1.0, 0.5]], dtype=f64)  # a1 = [0, 2] (+ b1)
    w2 = torch.tensor([[1.0, 1.0]], dtype=f64)  # a2 = relu(a1) · w2 (+ b2) far from 0
    relu = ACTIVATIONS["relu"]
    names = ["W", "b"] if bias else ["W"]
    layers = [
        Dense(relu, [w1] + ([torch.tensor([0.0, 0.5], dtype=f64)] if bias else []), names),
        Dense(relu, [w2] + ([torch.tensor([0.5], dtype=f64)] if bias else []), names),
    ]
    return Net(layers, x, torch.ones((1, 1), dtype=f64), LOSSES["mse"])


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
def test_relu_kink_is_flagged(bias):
    net = _kinked_net(bias)
    fwd = forward(net)
    assert float(fwd.pre[0][0, 0]) == 0.0
    assert float(fwd.pre[1][0, 0]) > 1.0
    num = numeric.full_gradients(net)
    expected_w1 = torch.tensor([[True, True], [False, False]])
    assert torch.equal(num.kinks[0][0], expected_w1)
    assert not bool(num.kinks[1][0].any())
    if bias:
        assert torch.equal(num.kinks[0][1], torch.tensor([True, False]))
        assert not bool(num.kinks[1][1].any())
    # Away from the kink the differences are derivatives again.
    grads = analytic_backward(net, fwd)
    keep = ~expected_w1
    torch.testing.assert_close(num.weights[0][keep], grads.weights[0][keep], rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(num.weights[1], grads.weights[1], rtol=1e-6, atol=1e-9)
    # Across the kink the one-sided slopes differ: the flagged entries are not derivatives.
    assert not torch.allclose(num.weights[0][~keep], grads.weights[0][~keep], rtol=1e-3)


def test_smooth_activation_never_flags_kinks(passes):
    p = passes(_spec("tanh"))
    num = numeric.full_gradients(p.net)
    assert not any(bool(k.any()) for layer in num.kinks for k in layer)
