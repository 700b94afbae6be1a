"""The facts percgrad.catalog states about each activation, checked against torch for every
entry (parametrized over the catalog's own tuples, so a new entry is covered without touching
this file): the derivative, sup|φ′|, the kink flag, the NumPy formulas theory reads, the He
gain and whether outputs lie in (0, 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from percgrad import catalog
from percgrad.network import functions

ACTS = catalog.ACTIVATION_NAMES


# ---------------------------------------------------------------- derivatives and facts


def _points() -> torch.Tensor:
    gen = torch.Generator().manual_seed(99)
    random = 4.0 * torch.randn(400, generator=gen, dtype=torch.float64)
    near_zero = torch.tensor([0.0, -0.0, 1e-12, -1e-12, 1e-8, -1e-8, 1e-4, -1e-4, 1e-2, -1e-2],
                             dtype=torch.float64)
    t = catalog.SOFTPLUS_THRESHOLD
    around_threshold = torch.tensor(
        [t - 1e-6, t, t + 1e-6, t + 0.5, 25.0, 40.0, 100.0, -t, -25.0, -40.0, -100.0],
        dtype=torch.float64,
    )
    return torch.cat([random, near_zero, around_threshold])


@pytest.mark.parametrize("activation", ACTS)
def test_derivative_equals_autograd_of_value(activation):
    act = functions.ACTIVATIONS[activation]
    a = _points().requires_grad_(True)
    (reference,) = torch.autograd.grad(act.value(a).sum(), a)
    with torch.no_grad():
        mine = act.derivative(a.detach(), act.value(a.detach()))
        chained = act.backprop_(torch.ones_like(a.detach()), a.detach(), act.value(a.detach()))
    assert mine.dtype == torch.float64
    torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(chained, reference, rtol=1e-12, atol=1e-12)


def _grid(points: int = 600_001) -> torch.Tensor:
    """[-30, 30], past softplus's threshold on both sides, 0 included."""
    return torch.linspace(-30.0, 30.0, points, dtype=torch.float64)


@pytest.mark.parametrize("activation", ACTS)
def test_dphi_sup_is_the_sup_of_the_derivative(activation):
    act = functions.ACTIVATIONS[activation]
    a = _grid()
    top = float(act.derivative(a, act.value(a)).abs().max())
    sup = catalog.ACTIVATIONS[activation].dphi_sup
    assert top <= sup * (1 + 1e-12), (top, sup)  # never exceeded
    assert sup - top <= 1e-3, (top, sup)  # and nearly attained


@pytest.mark.parametrize("activation", ACTS)
def test_kink_flags_exactly_a_jump_of_the_derivative_at_zero(activation):
    act = functions.ACTIVATIONS[activation]
    a = torch.tensor([-1e-9, 1e-9], dtype=torch.float64)
    left, right = act.derivative(a, act.value(a)).tolist()
    jumps = abs(right - left) > 1e-6
    assert catalog.ACTIVATIONS[activation].kink is jumps, (left, right)
    assert act.kink is jumps


@pytest.mark.parametrize("activation", ACTS)
def test_numpy_formulas_equal_the_torch_ones(activation):
    info = catalog.ACTIVATIONS[activation]
    act = functions.ACTIVATIONS[activation]
    a = _grid(120_001)
    with torch.no_grad():
        value = act.value(a)
        slope = act.derivative(a, value)
    problems = []
    for what, formula, reference in (("np_value", info.np_value, value),
                                     ("np_derivative", info.np_derivative, slope)):
        mine = torch.from_numpy(np.asarray(formula(a.numpy()), dtype=np.float64))
        bad = (mine - reference).abs() > 1e-12 * (1.0 + reference.abs())
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            j = int(((mine - reference).abs() / (1.0 + reference.abs())).argmax())
            problems.append(
                f"{what} differs from torch at {int(bad.sum())} of {a.numel()} points in "
                f"[{float(a[bad].min()):g}, {float(a[bad].max()):g}]: first a = {float(a[i])!r}: "
                f"{float(mine[i])!r} vs {float(reference[i])!r}; worst a = {float(a[j])!r}: "
                f"{float(mine[j])!r} vs {float(reference[j])!r}"
            )
    assert not problems, "; ".join(problems)


_TORCH_GAIN = {
    "sigmoid": ("sigmoid",),
    "tanh": ("tanh",),
    "relu": ("relu",),
    "leaky-relu": ("leaky_relu", catalog.LEAKY_SLOPE),
    "identity": ("linear",),
}


@pytest.mark.parametrize("activation", ACTS)
def test_kaiming_gain_is_torchs_where_torch_knows_it(activation):
    gain = catalog.ACTIVATIONS[activation].kaiming_gain
    assert math.isfinite(gain) and gain > 0
    if activation not in _TORCH_GAIN:
        pytest.skip(f"torch.nn.init.calculate_gain has no {activation}")
    assert gain == pytest.approx(torch.nn.init.calculate_gain(*_TORCH_GAIN[activation]), rel=1e-12)


def test_unit_interval_is_true_exactly_where_outputs_lie_in_zero_one():
    for name, info in catalog.ACTIVATIONS.items():
        out = functions.ACTIVATIONS[name].value(torch.linspace(-5.0, 5.0, 101, dtype=torch.float64))
        inside = bool(((out > 0) & (out < 1)).all())
        assert info.unit_interval is inside, name
