"""Autograd Functions and helpers shared by the tests of a user's function
(tests/engines/test_check.py, tests/engines/test_user_code.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function


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


def random_inputs(shapes: list[tuple[int, ...]], seed: int = 3) -> list[Tensor]:
    """float64 tensors of ``shapes``, drawn from a generator seeded with ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]


class HalfSquare(torch.autograd.Function):
    """x², with a backward that forgets the factor 2."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * x
