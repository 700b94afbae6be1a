"""A model whose layers use a custom autograd.Function, one of them with a mistake planted in its
backward: percgrad's check fails and names that layer.

    percgrad inspect examples/broken_backward.py:build --input-shape 8,16

``hidden`` computes tanh′ as 1 − h instead of 1 − h²; ``encoder`` uses the correct backward.
"""

from collections import OrderedDict

import torch
from torch import Tensor, nn


class LinearTanhFunction(torch.autograd.Function):
    """h = tanh(x Wᵀ + b), its backward written by hand."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:  # type: ignore[override]
        h = torch.tanh(x @ weight.t() + bias)
        ctx.save_for_backward(x, weight, h)
        return h

    @staticmethod
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        x, weight, h = ctx.saved_tensors
        delta = grad_h * (1 - h * h)
        return delta @ weight, delta.t() @ x, delta.sum(0)


class BrokenLinearTanhFunction(LinearTanhFunction):
    """The same forward; the backward has the planted mistake."""

    @staticmethod
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        x, weight, h = ctx.saved_tensors
        delta = grad_h * (1 - h)  # the mistake: tanh′(a) is 1 − h², not 1 − h
        return delta @ weight, delta.t() @ x, delta.sum(0)


class LinearTanh(nn.Module):
    """A dense layer with tanh, through a custom autograd.Function."""

    def __init__(self, n_in: int, n_out: int, function: type[torch.autograd.Function] = LinearTanhFunction):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / n_in**0.5)
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.function = function

    def forward(self, x: Tensor) -> Tensor:
        return self.function.apply(x, self.weight, self.bias)


def build() -> nn.Module:
    """encoder (correct) → hidden (broken backward) → head (nn.Linear), seeded."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(OrderedDict(
            encoder=LinearTanh(16, 16),
            hidden=LinearTanh(16, 16, BrokenLinearTanhFunction),
            head=nn.Linear(16, 4),
        ))
