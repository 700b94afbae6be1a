"""Wrong backward passes for the samples of docs/how-the-check-works.md (``percgrad check
scripts/docs_functions.py:SomeHuge --shapes 3x4``): a check must fail them, never leave them out."""

from __future__ import annotations

from typing import Any

import torch


class SomeHuge(torch.autograd.Function):
    """f = 2x, whose backward says 1e200·g wherever x > 1 (2·g elsewhere)."""

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return 2 * x

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return torch.where(x > 1, 1e200 * grad, 2 * grad)


class InfGrad(torch.autograd.Function):
    """f = 2x, whose backward says +∞ everywhere."""

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return 2 * x

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.full_like(grad, float("inf"))
