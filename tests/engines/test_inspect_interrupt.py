"""Ctrl-C during inspect's check or its training steps keeps what was measured
(engines/inspect.py): the table, the diagnosis and the steps so far, the check marked
interrupted."""

from __future__ import annotations

import torch
from torch import nn

import percgrad


class _CtrlCInFloat64(nn.Module):
    """Raises KeyboardInterrupt (as Ctrl-C does) once it runs in float64: in the check."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float64:
            raise KeyboardInterrupt
        return self.b(torch.tanh(self.a(x)))


def test_ctrl_c_in_the_check_keeps_the_table_and_the_diagnosis() -> None:
    torch.manual_seed(0)
    report = percgrad.inspect(_CtrlCInFloat64(), torch.randn(16, 6))
    assert report.interrupted
    assert report.check.reason == "interrupted" and report.check.passed is None
    assert [m.name for m in report.modules] == ["a", "b"]
    assert report.diagnosis.weight_layers == ["a", "b"]
    assert not report.failed  # an interrupted check judged nothing
    assert report.to_dict()["interrupted"] is True


class _CtrlCAtStep(nn.Module):
    """Raises KeyboardInterrupt on its fourth call: during the second SGD step."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 2)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 3:
            raise KeyboardInterrupt
        return self.b(torch.tanh(self.a(x)))


def test_ctrl_c_while_training_keeps_the_steps_so_far() -> None:
    torch.manual_seed(0)
    report = percgrad.inspect(_CtrlCAtStep(), torch.randn(16, 6), steps=50)
    assert report.interrupted and report.history is not None
    assert [h.step for h in report.history] == [0, 1]
    assert report.check.reason == "interrupted"
    assert any(n.kind == "training-interrupted" and n.text == "1" for n in report.notes)
