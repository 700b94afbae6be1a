"""The plots of vanish (views/plots/vanish.py): solid measured and dashed predicted lines, a
colour per series (per run when compared), legends off the data, mathtext labels, the verdict
in a box above; the spectrum with σ = 1 dotted; the prediction anchored at the last layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from matplotlib.collections import LineCollection

from percgrad import api
from percgrad.reports.run import Report
from percgrad.views.plots import vanish
from percgrad.views.plots.figure import MEASURED, PREDICTED, REFERENCE, pyplot
from views.plots.plot_checks import (
    assert_distinct_colours,
    assert_legends_clear,
    assert_symbols_in_mathtext,
    colour,
    data_axes,
    drawn,
    labels,
    lines,
    verdict,
)


@pytest.fixture
def draw() -> Iterator[Any]:
    """draw(report) → its drawn figure, closed after the test."""
    figs: list[Any] = []

    def make(report: Report) -> Any:
        figs.append(drawn(vanish.draw_vanish(report)))
        return figs[-1]

    yield make
    for fig in figs:
        pyplot().close(fig)


def _chain(**options: Any) -> Report:
    return api.vanish(**{"depth": 6, "width": 16, "device": "cpu", **options})


def assert_conventional(ax: Any) -> None:
    """Measured lines solid and a colour each; each dashed (predicted) line in the colour of
    the measured series it predicts; no other style but dotted references."""
    solid, dashed = lines(ax, MEASURED), lines(ax, PREDICTED)
    assert solid
    assert_distinct_colours(solid)
    assert {colour(ln) for ln in dashed} <= {colour(ln) for ln in solid}
    assert_distinct_colours(dashed)
    assert all(ln.get_linestyle() in (MEASURED, PREDICTED, REFERENCE) for ln in lines(ax))
    for ln in dashed:
        assert "predicted" in ln.get_label()
    for ln in solid:
        assert "predicted" not in ln.get_label()


def test_one_run_measured_solid_predicted_dashed(draw: Any) -> None:
    report = _chain(depth=10, activation="sigmoid", init="normal", check="off")
    fig = draw(report)
    (ax,) = data_axes(fig)
    assert_conventional(ax)
    grad, delta = lines(ax, MEASURED)
    (predicted,) = lines(ax, PREDICTED)
    assert colour(predicted) == colour(delta) != colour(grad)
    assert list(predicted.get_ydata()) == pytest.approx(vanish.predicted_deltas(report))
    assert report.summary is not None and report.summary.diagnosis == "vanishing"
    assert verdict(fig).startswith("VANISHING: first/last")
    assert_symbols_in_mathtext(labels(fig))
    assert_legends_clear(fig)


def test_a_comparison_is_a_colour_per_run_with_each_verdict(draw: Any) -> None:
    report = _chain(compare="sigmoid,tanh,relu", init="xavier")
    fig = draw(report)
    grad_ax, delta_ax = data_axes(fig)
    for ax in (grad_ax, delta_ax):
        assert_conventional(ax)
        assert ax.get_yscale() == "log"
    assert [colour(ln) for ln in lines(grad_ax)] == [colour(ln) for ln in lines(delta_ax, "-")]
    text = verdict(fig)
    for r in report.runs:
        assert r.summary is not None
        assert f"{r.label}: {r.summary.diagnosis.upper()}" in text
    entries = [t.get_text() for t in delta_ax.get_legend().get_texts()]
    assert entries[:3] == [f"{r.label} ({r.summary.diagnosis.upper()})" for r in report.runs
                           if r.summary is not None]
    assert_symbols_in_mathtext(labels(fig))
    assert_legends_clear(fig)


def test_a_run_with_nothing_to_draw_or_hidden_under_another_says_so(draw: Any) -> None:
    dead = draw(_chain(width=1, depth=10, compare="tanh,relu", check="off"))
    assert any("not drawn" in t.get_text() for t in dead.axes[-1].get_legend().get_texts())
    alike = draw(_chain(width=1, depth=4, compare_init="normal,xavier", check="off"))
    texts = [t.get_text() for t in alike.axes[-1].get_legend().get_texts()]
    assert "xavier (VANISHING) = normal, hidden under it" in texts


def test_the_spectrum_keeps_the_convention(draw: Any) -> None:
    fig = draw(_chain(depth=4, width=16, spectrum=True, activation="tanh", init="xavier",
                      check="off"))
    flow, spectrum = data_axes(fig)
    assert_conventional(flow)  # ‖δ_k‖ measured is solid here too, not dashed
    (isometry,) = lines(spectrum, REFERENCE)
    assert list(isometry.get_xdata()) == [1.0, 1.0]
    assert spectrum.get_yscale() == "linear" and spectrum.get_ylim()[0] == 0
    assert spectrum.patches  # a histogram of 16 values
    few = draw(_chain(depth=4, width=1, spectrum=True, check="off"))
    assert any(isinstance(c, LineCollection) for c in data_axes(few)[1].collections)  # stems
    assert_legends_clear(fig)
    assert_symbols_in_mathtext(labels(fig))


def test_training_adds_the_loss_and_a_colour_per_layer(draw: Any) -> None:
    fig = draw(_chain(depth=5, steps=5, lr=0.5, check="off"))
    flow, _, deltas = data_axes(fig)
    assert_conventional(flow)
    assert_distinct_colours(lines(deltas))
    assert [ln.get_label() for ln in lines(deltas)] == [r"$\Vert\delta_{1}\Vert$",
                                                        r"$\Vert\delta_{3}\Vert$",
                                                        r"$\Vert\delta_{5}\Vert$"]
    assert_legends_clear(fig)


def test_the_predicted_curve_is_anchored_at_the_last_layer() -> None:
    report = _chain(depth=8, width=64, init="xavier", activation="tanh", check="off")
    predicted = vanish.predicted_deltas(report)
    assert predicted is not None and len(predicted) == 8
    assert predicted[-1] == pytest.approx(report.layers[-1].delta_norm)
    assert report.theory is not None
    # each step down multiplies ‖δ‖ by √χ_k
    for k in range(7):
        assert predicted[k] == pytest.approx(predicted[k + 1] * report.theory.chi[k] ** 0.5)
