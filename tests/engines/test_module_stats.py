"""One hooked pass of a user's model and its statistics per module (engines/module_stats.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from percgrad.engines.module_stats import module_stats, one_pass
from percgrad.errors import PercgradError


def test_each_modules_norms_are_its_own_parameters_and_gradients() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    result, targets = one_pass(model, [x], "mse", None, seed=0)
    assert targets is not None and targets.shape == (5, 2)
    assert [n.kind for n in result.notes] == ["random-targets"]
    stats = module_stats(model, result)
    assert [(s.name, s.type, s.weight_layer) for s in stats] == [
        ("0", "Linear", True), ("1", "Tanh", False), ("2", "Linear", True)]
    first = stats[0]
    expected = math.sqrt(float(model[0].weight.grad.square().sum() + model[0].bias.grad.square().sum()))
    assert first.grad_norm == pytest.approx(expected)
    assert first.params == 16 and stats[1].params == 0 and stats[1].grad_norm is None
    with torch.no_grad():
        assert result.loss == pytest.approx(float(((model(x) - targets) ** 2).mean()))


def test_a_forward_pass_that_raises_names_the_input_shape() -> None:
    with pytest.raises(PercgradError) as err:
        one_pass(nn.Linear(3, 2), [torch.randn(5, 4)], "sum", None, seed=0)
    assert err.value.option == "TARGET" and "5×4" in err.value.message
