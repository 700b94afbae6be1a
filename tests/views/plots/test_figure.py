"""What every plot shares (views/plots/figure.py): the Agg backend, writing a figure whole, and
the values a log axis can show."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from percgrad.errors import PercgradError
from percgrad.views.plots.figure import PLOT_FORMATS, positive, pyplot, save_figure


def test_a_log_axis_shows_positive_finite_values_only() -> None:
    shown = positive([1.0, 0.0, -2.0, None, math.inf, 3.5])
    assert shown[0] == 1.0 and shown[-1] == 3.5
    assert all(math.isnan(v) for v in shown[1:5])


def test_a_figure_is_written_in_the_suffixs_format(tmp_path: Path) -> None:
    assert PLOT_FORMATS == (".png", ".svg", ".pdf")
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    path = tmp_path / "f.svg"
    save_figure(fig, plt, path)
    assert path.read_text(encoding="utf-8").startswith("<?xml")
    fig, _ = plt.subplots()
    with pytest.raises(PercgradError) as err:
        save_figure(fig, plt, tmp_path / "missing" / "f.png")
    assert err.value.option == "--plot"
