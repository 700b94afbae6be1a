"""Plots of single and multi (views/plots/perceptron.py): the three gradients a colour each, bars
from 0 on a linear axis (points on a log axis only where norms span decades), mathtext labels,
the check's verdict above, and every kind of run written as a real image."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from percgrad import api
from percgrad.views.plots import perceptron
from percgrad.views.plots.figure import pyplot
from views.plots.plot_checks import (
    assert_distinct_colours,
    assert_legends_clear,
    assert_symbols_in_mathtext,
    drawn,
    labels,
    verdict,
)


@pytest.fixture
def draw() -> Iterator[Any]:
    """draw(report) → the figure, closed after the test."""
    figs: list[Any] = []

    def make(report: Any) -> Any:
        figs.append(drawn(perceptron.draw_plot(report)))
        return figs[-1]

    yield make
    for fig in figs:
        pyplot().close(fig)


def _bars(fig: Any) -> tuple[Any, list[Rectangle]]:
    ax = next(a for a in fig.axes if a.axison)
    return ax, [p for c in ax.containers for p in c.patches]


def test_single_bars_the_three_gradients_from_zero(draw: Any) -> None:
    report = api.single(inputs=3, device="cpu")
    fig = draw(report)
    ax, bars = _bars(fig)
    assert ax.get_yscale() == "linear" and len(ax.containers) == 3 and len(bars) == 9
    assert all(b.get_y() == 0 for b in bars)  # every bar starts at 0: heights compare honestly
    assert_distinct_colours(c.patches[0] for c in ax.containers)
    heights = [b.get_height() for b in ax.containers[0].patches]
    assert heights == pytest.approx(np.ravel(report.layers[0].grad.analytic))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["$w_{0}$", "$w_{1}$", "$w_{2}$"]
    assert ax.get_ylabel() == r"$\partial E/\partial w_j$"
    assert_symbols_in_mathtext(labels(fig))
    assert "check PASS" in verdict(fig)
    assert_legends_clear(fig)


def test_multi_keeps_the_ratio_of_the_norms(draw: Any) -> None:
    report = api.multi(inputs=3, hidden=[4], outputs=2, device="cpu")
    fig = draw(report)
    ax, _ = _bars(fig)
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    autograd = [b.get_height() for b in ax.containers[1].patches]
    assert autograd == pytest.approx([layer.grad_norm for layer in report.layers])
    # a bar twice as tall is twice the norm: the axis starts at 0, not at a cut log baseline
    top = ax.transData.transform((0, max(autograd)))[1] - ax.transData.transform((0, 0))[1]
    low = ax.transData.transform((0, min(autograd)))[1] - ax.transData.transform((0, 0))[1]
    assert low / top == pytest.approx(min(autograd) / max(autograd), rel=1e-6)
    assert_symbols_in_mathtext(labels(fig))
    assert_legends_clear(fig)


def test_norms_spanning_decades_are_points_on_a_log_axis(draw: Any) -> None:
    report = api.multi(inputs=4, hidden=[8] * 6, outputs=1, device="cpu")
    norms = [layer.grad_norm for layer in report.layers]
    assert max(norms) / min(norms) > perceptron.LOG_SPAN
    ax, bars = _bars(draw(report))
    assert ax.get_yscale() == "log" and not bars  # no bar's height hangs on the axis' start
    points = [ln for ln in ax.get_lines() if ln.get_marker() not in ("None", "")]
    assert len(points) == 3
    assert_distinct_colours(points)
    assert perceptron.needs_log([1.0, 200.0]) and not perceptron.needs_log([0.0, 1.0, 200.0])


def test_a_planted_mistake_fails_in_the_verdict(draw: Any) -> None:
    report = api.multi(inputs=4, hidden=[4], outputs=4, mistake="forget-dphi", device="cpu")
    text = verdict(draw(report))
    assert "check FAIL" in text and "--mistake forget-dphi" in text


@pytest.mark.parametrize("make", [
    lambda: api.vanish(depth=4, width=8, compare="sigmoid,tanh", check="off", device="cpu"),
    lambda: api.single(device="cpu"),
], ids=["compare", "single"])
def test_every_plot_kind_is_a_real_image(tmp_path, make) -> None:
    import matplotlib.image

    path = tmp_path / "plot.png"
    perceptron.save_plot(make(), path)
    img = np.asarray(matplotlib.image.imread(path))
    assert img.ndim == 3 and img.shape[0] >= 400 and img.shape[1] >= 600
    # not blank: many distinct colours, and a fair share of non-white pixels
    rgb = img[..., :3].reshape(-1, 3)
    assert len(np.unique((rgb * 255).astype(int), axis=0)) > 50
    assert float((rgb.mean(axis=1) < 0.9).mean()) > 0.02
    assert not pyplot().get_fignums()  # closed once written

