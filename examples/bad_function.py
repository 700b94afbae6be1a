"""Functions for ``percgrad check``: a custom autograd.Function whose backward is wrong for one of
its two inputs, and the same function in plain torch, which autograd differentiates correctly.

    percgrad check examples/bad_function.py:ScaledSoftplus --shapes 3x4,4
    percgrad check examples/bad_function.py:scaled_softplus --shapes 3x4,4
"""

import torch
import torch.nn.functional as F
from torch import Tensor


class ScaledSoftplus(torch.autograd.Function):
    """y = softplus(x) · w, w scaling each column; the gradient for w has a planted mistake."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, w)
        return F.softplus(x) * w

    @staticmethod
    def backward(ctx, grad_y: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        x, w = ctx.saved_tensors
        grad_x = grad_y * w * torch.sigmoid(x)  # right: softplus′ = σ
        grad_w = (grad_y * torch.sigmoid(x)).sum(0)  # the mistake: ∂y/∂w is softplus(x), not σ(x)
        return grad_x, grad_w


def scaled_softplus(x: Tensor, w: Tensor) -> Tensor:
    """The same function in plain torch."""
    return F.softplus(x) * w
