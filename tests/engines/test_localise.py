"""Localising a failed check of a user's model (engines/localise.py): each module on its own
recorded input, the first whose own backward is wrong named."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from functions_util import HalfSquare
from percgrad.engines.localise import localise
from percgrad.engines.model_check import float64_copy


class Square(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return HalfSquare.apply(x)


def test_the_first_module_whose_own_backward_is_wrong_is_named() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc=nn.Linear(3, 4), sq=Square(), out=nn.Linear(4, 1)))
    m64 = float64_copy(model)
    loc = localise(m64, [torch.randn(5, 3, dtype=torch.float64)], 1e-6, 0, [])
    assert (loc.module, loc.type, loc.container) == ("sq", "Square", False)
    assert loc.checked[:2] == ["fc", "sq"]
    assert loc.check is not None and loc.check.passed is False


def test_a_right_model_localises_nothing() -> None:
    torch.manual_seed(0)
    m64 = float64_copy(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)))
    loc = localise(m64, [torch.randn(5, 3, dtype=torch.float64)], 1e-6, 0, [])
    assert loc.module is None and loc.check is None
    assert loc.checked == ["0", "1", "2"] or set(loc.checked) >= {"0", "2"}


class _Block(nn.Module):
    """Two right layers, then a wrong Function in the block's own code: a container's check runs
    its rows one at a time (no vmap), the first layer's calls replayed where it is not perturbed."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(3, 4), nn.Linear(4, 4)

    def forward(self, x: Tensor) -> Tensor:
        return HalfSquare.apply(self.fc2(torch.tanh(self.fc1(x))))


def test_a_containers_own_mistake_is_found_with_its_calls_replayed() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(block=_Block(), out=nn.Linear(4, 1)))
    loc = localise(float64_copy(model), [torch.randn(5, 3, dtype=torch.float64)], 1e-6, 0, [])
    assert (loc.module, loc.container) == ("block", True)
    assert loc.check is not None and loc.check.passed is False and loc.check.evaluation == "loop"
