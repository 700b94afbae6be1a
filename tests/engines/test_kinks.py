"""Units exactly on a ReLU kink at the point checked (engines/kinks.py): counted for modules and
functional calls alike, taken off the kink by moving the exact-zero parameters, so that a
DenseNet-like block (ReLU zeros through a batch norm with β = 0) is no false FAIL — and a wrong
backward in it still fails."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

import percgrad
from percgrad.engines.kinks import exact_kinks, nudge_zeros, off_kinks
from percgrad.engines.model_check import float64_copy


class _Layer(nn.Module):
    def __init__(self, c: int, g: int, wrong: bool = False) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c), nn.Conv2d(c, 2 * g, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(2 * g), nn.Conv2d(2 * g, g, 3, padding=1, bias=False)
        self.wrong = wrong

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(torch.relu(self.bn1(x)))
        h = _Doubled.apply(h) if self.wrong else h
        return torch.cat([x, self.conv2(torch.relu(self.bn2(h)))], 1)


class _Doubled(torch.autograd.Function):
    """Identity whose backward doubles the gradient: a wrong backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return 2 * g


def _dense(wrong: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), _Layer(8, 4),
                         _Layer(12, 4, wrong), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 5))


def test_exact_zeros_are_counted_for_modules_and_functions() -> None:
    model = nn.Sequential(nn.ReLU(), nn.ReLU())
    x = torch.tensor([[-1.0, 0.0, 2.0]])
    assert exact_kinks(model, lambda: model(x)) == 1 + 2  # x's 0, then relu(x)'s two zeros
    assert exact_kinks(model, lambda: torch.relu(torch.tensor([0.0, 0.0]))) == 2


def test_only_the_exact_zeros_move_and_only_by_a_hair() -> None:
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.bias.zero_()
        model.weight[0, 0] = 0.0
    before = model.weight.detach().clone()
    assert nudge_zeros(model, 0) == ["weight", "bias"]
    assert bool((model.bias != 0).all()) and float(model.bias.detach().abs().max()) < 1e-4
    changed = model.weight.detach() != before
    assert changed.sum() == 1 and bool(changed[0, 0])


def test_a_densenet_like_block_is_checked_off_its_kinks() -> None:
    model = _dense()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    m64 = float64_copy(model)
    zeros, left, moved = off_kinks(m64, lambda: m64(x.double()), 0)
    assert zeros > 0 and left == 0 and all(n.endswith("bias") for n in moved)
    report = percgrad.inspect(model, x, check="fast")
    assert report.check.passed is True
    note = next(n for n in report.notes if n.kind == "kinks-nudged")
    assert note.value == zeros and note.text == "0"


def test_a_wrong_backward_in_it_still_fails() -> None:
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    for method in ("fast", "full"):
        report = percgrad.inspect(_dense(wrong=True), x, check=method)
        assert report.check.passed is False, method
