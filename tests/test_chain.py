"""The fused in-place backward step of every activation is the same formula as its derivative."""

from __future__ import annotations

import pytest
import torch

from percgrad.network.functions import ACTIVATIONS


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
