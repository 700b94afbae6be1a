"""Where a non-finite value is born (engines/watch/producer.py): the op that makes it from
finite inputs, forward or backward, the module it ran in and the user's line."""

from __future__ import annotations

import torch
from torch import nn

from percgrad.engines.watch.producer import locate


class _Exp(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.exp(h * 100.0)  # inf from finite h > 0.89


class _Root(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.gate = _Exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.lin(x)).sum(dim=1)


class _Sqrt(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(self.lin(x).clamp(min=0.0)).sum(dim=1)  # ∂√h/∂h = ∞ at h = 0


def _names(root: nn.Module) -> dict[int, str]:
    return {id(m): path or "(model)" for path, m in root.named_modules()}


def test_a_forward_overflow_is_named_with_its_op_module_and_line() -> None:
    torch.manual_seed(0)
    root = _Root()
    with torch.no_grad():
        root.lin.bias.fill_(5.0)
    x = torch.randn(4, 3)
    found = locate(root, _names(root), (x,), {}, torch.get_rng_state(), None, 7)
    assert (found.step, found.phase, found.op, found.module, found.module_type, found.value) == (
        7, "forward", "aten.exp", "gate", "_Exp", "inf")
    assert found.source is not None and found.source.endswith("test_producer.py:14")
    assert found.code == "return torch.exp(h * 100.0)  # inf from finite h > 0.89"


def test_a_backward_infinity_is_named_by_its_backward_op_and_forward_line() -> None:
    torch.manual_seed(0)
    root = _Sqrt()
    with torch.no_grad():
        root.lin.weight.zero_()
        root.lin.bias.zero_()  # √0: finite forward, infinite derivative
    x = torch.randn(4, 3)
    found = locate(root, _names(root), (x,), {}, None, torch.ones(4), 3)
    assert found.phase == "backward" and found.module == "(model)"
    assert found.op is not None and "SqrtBackward0" in found.op
    assert found.source is not None and found.source.endswith("test_producer.py:33")


def test_a_finite_model_with_a_non_finite_output_gradient_blames_the_loss() -> None:
    torch.manual_seed(0)
    root = nn.Linear(3, 2)
    found = locate(root, _names(root), (torch.randn(4, 3),), {}, None,
                   torch.full((4, 2), float("nan")), 1)
    assert found.phase == "loss" and found.op is None
    assert all(p.grad is None for p in root.parameters())  # the user's model untouched
