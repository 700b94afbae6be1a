"""The plots of ``inspect`` and ``check`` (views/plots/user.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import percgrad
from percgrad.errors import PercgradError
from percgrad.views.plots.user import save_check_plot, save_inspect_plot


def test_check_and_inspect_plots_are_written(tmp_path: Path) -> None:
    x = torch.linspace(-1, 1, 6, dtype=torch.float64)
    report = percgrad.check(torch.tanh, x, check="full")
    save_check_plot(report, tmp_path / "check.svg")
    assert (tmp_path / "check.svg").read_text(encoding="utf-8").startswith("<?xml")
    fast = percgrad.check(torch.tanh, x, check="fast")
    with pytest.raises(PercgradError, match="--check full"):
        save_check_plot(fast, tmp_path / "fast.svg")
    torch.manual_seed(0)
    inspected = percgrad.inspect(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)),
                                 torch.randn(5, 3), check="off")
    save_inspect_plot(inspected, tmp_path / "inspect.svg")
    assert (tmp_path / "inspect.svg").stat().st_size > 1000
