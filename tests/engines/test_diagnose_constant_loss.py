"""A loss that does not depend on the parameters (a softmax summed): every ‖∂E/∂W‖ is round-off,
and the diagnosis says constant-loss with its cause, never HEALTHY."""

from __future__ import annotations

import torch
from torch import nn

import percgrad
from percgrad.engines.diagnose import constant_loss
from percgrad.engines.module_stats import one_pass


def _softmax_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10), nn.Softmax(dim=-1))


def _inputs() -> torch.Tensor:
    return torch.randn(8, 16, generator=torch.Generator().manual_seed(1))


def test_softmax_summed_is_constant_loss() -> None:
    report = percgrad.inspect(_softmax_model(), _inputs(), loss="sum", check="off")
    d = report.diagnosis
    assert d.kinds == ["constant-loss"]
    assert d.cause == "softmax-sum"
    assert not d.healthy
    assert d.concerned == [] and d.dead_layers == []
    doc = report.to_dict()["diagnosis"]
    assert doc["kinds"] == ["constant-loss"] and doc["cause"] == "softmax-sum"
    assert doc["healthy"] is False


def test_rows_summing_to_one_without_a_softmax_module() -> None:
    class Normalised(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 5))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.body(x), dim=-1)

    torch.manual_seed(0)
    d = percgrad.inspect(Normalised(), _inputs(), loss="sum", check="off").diagnosis
    assert d.kinds == ["constant-loss"]
    assert d.cause == "softmax-sum"


def test_cross_entropy_on_the_same_model_is_not_constant() -> None:
    targets = torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(2))
    d = percgrad.inspect(_softmax_model(), _inputs(), targets=targets, loss="cross-entropy",
                         check="off").diagnosis
    assert "constant-loss" not in d.kinds
    assert d.cause is None


def test_floor_is_not_reached_by_a_loss_that_depends_on_the_parameters() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))
    result, _ = one_pass(model, [_inputs()], "sum", None, 0)
    assert constant_loss(result) == (False, None)


def test_float64_softmax_is_constant_loss_too() -> None:
    model = _softmax_model().double()
    d = percgrad.inspect(model, _inputs().double(), loss="sum", check="off").diagnosis
    assert d.kinds == ["constant-loss"] and d.cause == "softmax-sum"


def test_the_check_of_a_constant_loss_is_vacuous_not_a_pass() -> None:
    report = percgrad.inspect(_softmax_model(), _inputs(), loss="sum")
    assert report.check.passed is None and report.check.reason == "constant-loss"
    assert not report.failed
    assert "vacuous" in report.to_dict()["check"]["sentence"]
