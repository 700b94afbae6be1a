"""The plot of ``phase`` (views/plots/phase.py): the predicted edge dashed, the measured one
solid, the legend off the diagram, mathtext labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from percgrad.engines import phase as engine
from percgrad.reports.phase import PhaseReport
from percgrad.spec.phase import phase_spec
from percgrad.views.plots.figure import MEASURED, PREDICTED, pyplot
from percgrad.views.plots.phase import draw_phase, save_phase_plot
from views.plots.plot_checks import (
    assert_legends_clear,
    assert_symbols_in_mathtext,
    data_axes,
    drawn,
    labels,
    lines,
    overlap,
)


@pytest.fixture(scope="module")
def small() -> PhaseReport:
    spec = phase_spec(activation="tanh", sigma_w2="0.5:3:0.5", sigma_b2="0,0.2", depth=12,
                      width=32, batch=4, device="cpu")
    return engine.run_phase(spec)


def test_plot_is_a_png(small: PhaseReport, tmp_path: Path) -> None:
    path = tmp_path / "phase.png"
    save_phase_plot(small, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predicted_dashed_measured_solid_legend_off_the_diagram(small: PhaseReport) -> None:
    fig = drawn(draw_phase(small))
    (ax,) = data_axes(fig)
    (predicted,) = lines(ax, PREDICTED)
    (measured,) = lines(ax, MEASURED)
    assert "predicted" in predicted.get_label() and "measured" in measured.get_label()
    assert predicted.get_color() != measured.get_color()
    assert len(measured.get_xdata()) == sum(c.measured is not None for c in small.critical)
    assert_legends_clear(fig)  # the legend is below the diagram
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    for other in fig.axes:  # and clear of the colour bar as well
        assert overlap(legend.get_window_extent(renderer), other.get_window_extent(renderer)) == 0
    assert_symbols_in_mathtext(labels(fig))
    assert r"$\sigma_w^2$" in ax.get_xlabel() and r"$\sigma_b^2$" in ax.get_ylabel()
    pyplot().close(fig)
