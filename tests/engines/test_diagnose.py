"""The diagnosis of a user's model (engines/diagnose.py): the rule of vanish over its weight
layers, dead layers and where values first turn non-finite."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from percgrad.engines.diagnose import diagnose_model
from percgrad.engines.module_stats import module_stats, one_pass


def _diagnosis(model: nn.Module, x: torch.Tensor):
    result, _ = one_pass(model, [x], "sum", None, seed=0)
    return diagnose_model(module_stats(model, result), result)


def test_weight_layers_dead_layers_and_a_healthy_model() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 6), act=nn.ReLU(), fc2=nn.Linear(6, 2)))
    healthy = _diagnosis(model, torch.randn(8, 4))
    assert healthy.weight_layers == ["fc1", "fc2"]
    assert healthy.flow in ("stable", "vanishing", "exploding") and healthy.share is not None
    with torch.no_grad():
        model.fc1.bias.fill_(-100.0)  # every unit of act is 0 for every sample
    dead = _diagnosis(model, torch.randn(8, 4))
    assert dead.kinds == ["dead"] and dead.dead_layers == ["fc1"]


def test_the_first_non_finite_module_is_named() -> None:
    class Log(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.log(x)  # negative inputs: NaN

    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc=nn.Linear(3, 3), logf=Log(), out=nn.Linear(3, 1)))
    d = _diagnosis(model, -10 - torch.rand(4, 3).abs())
    assert d.kinds == ["non-finite"] and d.flow == "non-finite"
    assert d.first_nonfinite_forward in ("fc", "logf")
