"""Loading the user's code (engines/user_code.py): the names of a function's inputs, and an
autograd Function class used through ``apply``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function

from percgrad.engines.user_code import parameter_names, resolve_function

# ---------------------------------------------------------------- the test functions


class LinearTanh(Function):
    """tanh(x @ w), right."""

    @staticmethod
    def forward(ctx, x, w):  # type: ignore[override]
        y = torch.tanh(x @ w)
        ctx.save_for_backward(x, w, y)
        return y

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, w, y = ctx.saved_tensors
        d = g * (1 - y * y)
        return d @ w.t(), x.t() @ d


class ModernSoftplus(Function):
    """softplus with setup_context and a vmap rule: torch.func.vmap batches it."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):  # type: ignore[override]
        return F.softplus(x)

    @staticmethod
    def setup_context(ctx, inputs, output):  # type: ignore[override]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * torch.sigmoid(x)


def plain_mix(x: Tensor, y: Tensor) -> Tensor:
    return (torch.sin(x) * y).sum(dim=0)


def _inputs(shapes: list[tuple[int, ...]], seed: int = 3) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]


def test_parameter_names_of_functions_and_autograd_functions():
    assert parameter_names(plain_mix, 2) == ["x", "y"]
    assert parameter_names(LinearTanh.apply, 2) == ["x", "w"]
    assert parameter_names(ModernSoftplus.apply, 1) == ["x"]
    assert parameter_names(torch.abs, 1) in (["input"], ["arg0"])


def test_an_autograd_function_class_is_used_through_apply():
    fn, name = resolve_function(LinearTanh)
    assert name == "LinearTanh.apply"
    assert math.isfinite(float(fn(*_inputs([(2, 3), (3, 2)])).sum()))
