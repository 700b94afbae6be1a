"""A zero-initialised weight (a head, a norm's γ) blocks every gradient upstream: the diagnosis
names the module (zero-weight), and says DEAD only where a ReLU is 0 on every unit."""

from __future__ import annotations

import torch
from torch import nn

import percgrad


def _inputs() -> torch.Tensor:
    return torch.randn(8, 16, generator=torch.Generator().manual_seed(1))


def test_zero_head_without_relu_is_zero_weight() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 10))
    with torch.no_grad():
        model[2].weight.zero_()
    report = percgrad.inspect(model, _inputs(), check="off")
    d = report.diagnosis
    assert d.kinds == ["zero-weight"]
    assert (d.module, d.module_type) == ("2", "Linear")
    assert d.concerned == ["0"]
    assert d.dead_layers == []
    assert not d.healthy
    doc = report.to_dict()["diagnosis"]
    assert doc["module"] == "2" and doc["module_type"] == "Linear"


def test_layernorm_gamma_zero_is_zero_weight() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.LayerNorm(32), nn.Tanh(), nn.Linear(32, 10))
    with torch.no_grad():
        model[1].weight.zero_()
    d = percgrad.inspect(model, _inputs(), check="off").diagnosis
    assert d.kinds == ["zero-weight"]
    assert (d.module, d.module_type) == ("1", "LayerNorm")
    assert d.concerned == ["0"]


def test_named_container_paths() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(16, 32), nn.Tanh())
            self.head = nn.Linear(32, 4)
            nn.init.zeros_(self.head.weight)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.body(x))

    torch.manual_seed(0)
    d = percgrad.inspect(Net(), _inputs(), check="off").diagnosis
    assert d.kinds == ["zero-weight"]
    assert (d.module, d.module_type) == ("head", "Linear")


def test_healthy_control_stays_healthy() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 10))
    report = percgrad.inspect(model, _inputs(), check="off")
    d = report.diagnosis
    assert d.healthy and d.kinds == []
    assert d.cause is None and d.module is None and d.module_type is None
    doc = report.to_dict()["diagnosis"]
    assert "cause" not in doc and "module" not in doc


def test_zero_weight_in_the_first_layer_is_not_flagged() -> None:
    # nothing is upstream of it: its own gradient still flows
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 10))
    with torch.no_grad():
        model[0].weight.zero_()
    d = percgrad.inspect(model, _inputs(), check="off").diagnosis
    assert "zero-weight" not in d.kinds


def test_the_check_says_which_tensors_are_zero_on_both_sides() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.GELU(), nn.Linear(8, 3))
    with torch.no_grad():
        model[2].weight.zero_()
    report = percgrad.inspect(model, _inputs(), check="full")
    assert report.diagnosis.kinds == ["zero-weight"]
    assert report.check.zero == ["0.weight", "0.bias"]
    assert report.to_dict()["check"]["zero"] == ["0.weight", "0.bias"]
    judged = {g.name for g in report.check.groups if g.judged}
    assert {"2.weight", "2.bias"} <= judged  # the head itself is still tested
