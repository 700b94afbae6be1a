"""The fused in-place backward step of every activation is the same formula as its derivative."""

from __future__ import annotations

import pytest
import torch

from percgrad.functions import ACTIVATIONS


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_backprop_equals_g_times_derivative(name: str, dtype: torch.dtype) -> None:
    act = ACTIVATIONS[name]
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(64, 9, generator=gen, dtype=torch.float64).mul_(3).to(dtype)
    a[0, :3] = 0.0  # the kink, where PyTorch's convention applies
    h = act.value(a)
    g = torch.randn(64, 9, generator=gen, dtype=torch.float64).to(dtype)
    expected = g * act.derivative(a, h)
    got = act.backprop_(g.clone(), a, h)
    torch.testing.assert_close(got, expected, rtol=4 * torch.finfo(dtype).eps, atol=0.0)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backprop_writes_into_g(name: str) -> None:
    act = ACTIVATIONS[name]
    a = torch.linspace(-3, 3, 11, dtype=torch.float64)
    g = torch.ones_like(a)
    out = act.backprop_(g, a, act.value(a))
    assert out.data_ptr() == g.data_ptr()
