"""The plots of ``inspect`` and ``check`` (views/plots/user.py): measured lines solid and a
colour each, y = x dotted, legends off the data, the verdict (diagnosis and check) above."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import percgrad
from percgrad.errors import PercgradError
from percgrad.views.plots.figure import MEASURED, REFERENCE, pyplot
from percgrad.views.plots.user import draw_check, draw_inspect, save_check_plot, save_inspect_plot
from views.plots.plot_checks import (
    assert_distinct_colours,
    assert_legends_clear,
    assert_symbols_in_mathtext,
    data_axes,
    drawn,
    labels,
    lines,
    verdict,
)


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


def test_inspect_shows_the_diagnosis_and_two_measured_colours() -> None:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(8):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    report = percgrad.inspect(nn.Sequential(*layers), torch.randn(8, 16), check="fast")
    fig = drawn(draw_inspect(report))
    (ax,) = data_axes(fig)
    weights, outputs = lines(ax)
    assert weights.get_linestyle() == outputs.get_linestyle() == MEASURED  # both measured
    assert_distinct_colours([weights, outputs])
    assert len(weights.get_xdata()) == 8  # one point per module with parameters, joined
    assert report.diagnosis.flow == "vanishing"
    text = verdict(fig)
    assert text.startswith("VANISHING: first/last") and "check PASS" in text
    assert_legends_clear(fig)
    assert_symbols_in_mathtext(labels(fig))
    pyplot().close(fig)


def test_check_names_the_failure_and_draws_y_equals_x_dotted() -> None:
    def wrong(x: torch.Tensor) -> torch.Tensor:
        return WrongSquare.apply(x)

    a = torch.linspace(-1, 1, 5, dtype=torch.float64)
    b = torch.linspace(0.5, 2, 3, dtype=torch.float64)
    report = percgrad.check(lambda x, w: wrong(x).sum() * w, a, b, check="full")
    fig = drawn(draw_check(report))
    (ax,) = data_axes(fig)
    (diagonal,) = lines(ax, REFERENCE)
    assert diagonal.get_label() == "numeric = autograd"
    assert_distinct_colours(ax.collections)  # a colour per input
    assert len(ax.collections) == 2
    text = verdict(fig)
    assert text.startswith("check FAIL") and "worst" in text
    assert any(t.get_text().startswith("x[") for t in ax.texts)  # the worst entry named
    assert_legends_clear(fig)
    assert_symbols_in_mathtext(labels(fig))
    pyplot().close(fig)


class WrongSquare(torch.autograd.Function):
    """x² with a backward off by a factor 3 (3x instead of 2x)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return grad * 3 * x
