"""Activations and losses (network/functions.py): hand-written derivatives against
torch.autograd, the fused in-place backward step of every activation, and the bindings of every
catalog entry."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from percgrad import catalog
from percgrad.errors import PercgradError
from percgrad.network import functions
from percgrad.network.functions import ACTIVATIONS, LEAKY_SLOPE, LOSSES
from percgrad.spec.run import ACTIVATION_NAMES, LOSS_NAMES


def _points(dtype: torch.dtype) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1234)
    random = 3.0 * torch.randn(500, generator=gen, dtype=torch.float64)
    special = torch.tensor([0.0, -0.0, 1e-3, -1e-3, 2.0**0.5, -7.5, 7.5], dtype=torch.float64)
    return torch.cat([random, special]).to(dtype)


def _autograd_derivative(act, a: torch.Tensor) -> torch.Tensor:
    a = a.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(act.value(a).sum(), a)
    return grad


def test_the_tables_match_the_spec_names():
    assert set(ACTIVATIONS) == set(ACTIVATION_NAMES)
    assert set(LOSSES) == set(LOSS_NAMES)
    for name in ACTIVATION_NAMES:
        assert functions.activation(name).name == name
    with pytest.raises(PercgradError) as info:
        functions.activation("swish")
    assert info.value.option == "--activation"
    with pytest.raises(PercgradError) as info:
        functions.loss("hinge")
    assert info.value.option == "--loss"


@pytest.mark.parametrize(
    ("name", "dtype", "tol"),
    [
        pytest.param(n, d, tol, id=f"{n}-{d}",
                     marks=[])
        for n in ACTIVATION_NAMES
        for d, tol in (("float64", 1e-12), ("float32", 1e-5))
    ],
)
def test_derivative_equals_autograd(name, dtype, tol):
    act = ACTIVATIONS[name]
    a = _points(getattr(torch, dtype))
    with torch.no_grad():
        h = act.value(a)
        mine = act.derivative(a, h)
    assert mine.dtype == a.dtype
    assert mine.shape == a.shape
    torch.testing.assert_close(mine, _autograd_derivative(act, a), rtol=tol, atol=tol)


@pytest.mark.parametrize(
    ("name", "expected", "dtype"),
    [
        pytest.param(n, e, d, id=f"{n}-{d}",
                     marks=[])
        for n, e in (("relu", 0.0), ("leaky-relu", LEAKY_SLOPE))
        for d in ("float32", "float64")
    ],
)
def test_kink_derivative_at_zero_follows_pytorch(name, expected, dtype):
    act = ACTIVATIONS[name]
    assert act.kink
    zero = torch.zeros(3, dtype=getattr(torch, dtype))
    mine = act.derivative(zero, act.value(zero))
    reference = _autograd_derivative(act, zero)
    assert torch.equal(mine, reference), (mine.tolist(), reference.tolist())
    assert torch.equal(mine, torch.full_like(zero, expected))


def test_only_relu_types_have_a_kink_and_only_sigmoid_maps_into_unit_interval():
    assert {n for n, a in ACTIVATIONS.items() if a.kink} == {"relu", "leaky-relu"}
    assert {n for n, a in ACTIVATIONS.items() if a.unit_interval} == {"sigmoid"}


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_dphi_sup_bounds_the_derivative_and_is_nearly_attained(name):
    act = ACTIVATIONS[name]
    grid = torch.linspace(-12.0, 12.0, 480_001, dtype=torch.float64)
    d = act.derivative(grid, act.value(grid)).abs()
    top = float(d.max())
    assert top <= act.dphi_sup * (1 + 1e-12)
    assert top >= act.dphi_sup * (1 - 1e-3)


def _targets(shape, loss_name: str, gen: torch.Generator) -> torch.Tensor:
    if loss_name == "bce":
        return torch.rand(shape, generator=gen, dtype=torch.float64)
    return torch.randn(shape, generator=gen, dtype=torch.float64)


_LOSS_ACT = [(lo, a) for lo in LOSS_NAMES for a in ACTIVATION_NAMES if lo == "mse" or a == "sigmoid"]


@pytest.mark.parametrize(
    ("loss_name", "act_name"),
    [
        pytest.param(lo, a)
        for lo, a in _LOSS_ACT
    ],
)
@pytest.mark.parametrize("shape", [(1, 1), (3, 4)], ids=str)
def test_delta_out_equals_autograd_of_the_loss(loss_name, act_name, shape):
    gen = torch.Generator().manual_seed(99)
    act, lossf = ACTIVATIONS[act_name], LOSSES[loss_name]
    a = 2.0 * torch.randn(shape, generator=gen, dtype=torch.float64)
    if act.kink:
        a[0, 0] = -abs(float(a[0, 0])) - 0.5  # at least one unit on the negative side
    t = _targets(shape, loss_name, gen)
    a_leaf = a.clone().requires_grad_(True)
    e = lossf.value(a_leaf, act.value(a_leaf), t)
    (expected,) = torch.autograd.grad(e, a_leaf)
    with torch.no_grad():
        mine = lossf.delta_out(a, act.value(a), t, act)
    torch.testing.assert_close(mine, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss_name", LOSS_NAMES)
def test_grad_output_equals_autograd_wrt_output(loss_name):
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    t = _targets((3, 4), loss_name, gen)
    o = torch.sigmoid(a).requires_grad_(True)
    # ∂E/∂o of the loss as written on outputs (bce on probabilities, as the formula says).
    e = {"mse": lambda: F.mse_loss(o, t), "bce": lambda: F.binary_cross_entropy(o, t),
         "sum": lambda: o.sum()}[loss_name]()
    (expected,) = torch.autograd.grad(e, o)
    mine = LOSSES[loss_name].grad_output(o.detach(), t)
    torch.testing.assert_close(mine, expected, rtol=1e-12, atol=1e-15)


def test_bce_value_equals_torch_where_finite():
    gen = torch.Generator().manual_seed(5)
    a = 4.0 * torch.randn(6, 3, generator=gen, dtype=torch.float64)
    t = torch.rand(6, 3, generator=gen, dtype=torch.float64)
    o = torch.sigmoid(a)
    value = LOSSES["bce"].value(a, o, t)
    torch.testing.assert_close(value, F.binary_cross_entropy(o, t), rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("t_value", [0.0, 0.5, 1.0])
def test_bce_is_finite_when_the_sigmoid_saturates(t_value):
    a = torch.tensor([[100.0, -100.0]], dtype=torch.float32)
    o = torch.sigmoid(a)
    assert float(o[0, 0]) == 1.0  # saturated: ln(1 − o) would be −∞
    t = torch.full_like(a, t_value)
    value = LOSSES["bce"].value(a, o, t)
    assert torch.isfinite(value)
    # −[t ln σ(a) + (1−t) ln(1−σ(a))] = softplus(a) − t·a, exactly representable here.
    expected = (F.softplus(a.double()) - t.double() * a.double()).mean()
    assert float(value) == pytest.approx(float(expected), rel=1e-6)
    delta = LOSSES["bce"].delta_out(a, o, t, ACTIVATIONS["sigmoid"])
    assert bool(torch.isfinite(delta).all())
    torch.testing.assert_close(delta, (o - t) / 2)


@pytest.mark.parametrize(
    ("loss_name", "act_name"), [(lo, a) for lo, a in _LOSS_ACT if a in ("sigmoid", "tanh")]
)
@pytest.mark.parametrize("shared_target", [True, False], ids=["t-shared", "t-stacked"])
def test_batched_equals_value_per_copy(loss_name, act_name, shared_target):
    gen = torch.Generator().manual_seed(8)
    act, lossf = ACTIVATIONS[act_name], LOSSES[loss_name]
    copies, batch, outputs = 5, 3, 2
    a = 2.0 * torch.randn(copies, batch, outputs, generator=gen, dtype=torch.float64)
    t = _targets((batch, outputs), loss_name, gen)
    if not shared_target:
        t = t.expand(copies, batch, outputs).clone()
    o = act.value(a)
    batched = lossf.batched(a, o, t)
    assert batched.shape == (copies,)
    for p in range(copies):
        t_p = t if shared_target else t[p]
        expected = lossf.value(a[p], o[p], t_p)
        assert float(batched[p]) == pytest.approx(float(expected), rel=1e-13, abs=0.0), p
    # Copies differ, so a mix-up between them would show.
    assert len({float(v) for v in batched}) == copies


# ---------------------------------------------------------------- the fused in-place backward step


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_backprop_equals_g_times_derivative(name: str, dtype: torch.dtype) -> None:
    act = ACTIVATIONS[name]
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(64, 9, generator=gen, dtype=torch.float64).mul_(3).to(dtype)
    a[0, :3] = 0.0  # the kink, where PyTorch's convention applies
    h = act.value(a)
    g = torch.randn(64, 9, generator=gen, dtype=torch.float64).to(dtype)
    # The exact product, from the same rounded inputs, in float64; the bound allows for a
    # formula that rounds |g| and |g·h²| (tanh's g − g·h²) as well as one that rounds the product.
    exact = g.double() * act.derivative(a.double(), h.double())
    got = act.backprop_(g.clone(), a, h).double()
    bound = 4 * torch.finfo(dtype).eps * (g.double().abs() * (1 + h.double().square()) + exact.abs())
    assert bool(((got - exact).abs() <= bound).all()), float(((got - exact).abs() - bound).max())


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backprop_writes_into_g(name: str) -> None:
    act = ACTIVATIONS[name]
    a = torch.linspace(-3, 3, 11, dtype=torch.float64)
    g = torch.ones_like(a)
    out = act.backprop_(g, a, act.value(a))
    assert out.data_ptr() == g.data_ptr()


# ---------------------------------------------------------------- the catalog's entries, bound


def test_functions_bind_every_catalog_entry():
    assert tuple(functions.ACTIVATIONS) == catalog.ACTIVATION_NAMES
    assert tuple(functions.LOSSES) == catalog.LOSS_NAMES
    for name, info in catalog.ACTIVATIONS.items():
        assert functions.ACTIVATIONS[name].info is info
        assert functions.activation(name).name == name
    for name, info in catalog.LOSSES.items():
        assert functions.LOSSES[name].info is info
