"""What every plot shares (views/plots/figure.py): the Agg backend, writing a figure whole, the
values a log axis can show, one colour per series, the tone of a verdict, legends and the verdict
box off the data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from matplotlib.colors import to_rgb

from percgrad.errors import PercgradError
from percgrad.views.plots.figure import (
    MEASURED,
    OKABE_ITO,
    PLOT_FORMATS,
    PREDICTED,
    REFERENCE,
    TONES,
    banner,
    colours,
    legend_right,
    positive,
    pyplot,
    save_figure,
    tone,
    verdict_box,
)
from views.plots.plot_checks import assert_legends_clear, overlap, verdict


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


def test_one_colour_blind_safe_colour_per_series() -> None:
    assert colours(3) == list(OKABE_ITO[:3])
    for n in (1, 7, 8, 12):
        assert len(set(colours(n))) == n
    assert (MEASURED, PREDICTED, REFERENCE) == ("-", "--", ":")


def test_the_tone_of_verdict_words() -> None:
    assert tone(["stable", "pass"]) == "good"
    assert tone(["vanishing", "pass"]) == tone(["stable", "fail"]) == tone(["signal-lost"]) == "bad"
    assert tone(["undetermined"]) == tone(["stable", "vacuous"]) == "warn"


def test_a_legend_to_the_right_and_the_verdict_above_stay_off_the_data() -> None:
    plt = pyplot()
    fig, axes = banner(plt, [["a"]], (6, 4))
    ax = axes["a"]
    ax.plot(range(10), range(10), MEASURED, label="a line that fills the axes")
    assert legend_right(ax) is not None
    box = verdict_box(axes["verdict"], ["VANISHING: first/last 1e-5", "check PASS"], "bad")
    assert not axes["verdict"].axison
    assert verdict(fig) == "VANISHING: first/last 1e-5\ncheck PASS"
    assert box.get_bbox_patch().get_edgecolor()[:3] == pytest.approx(to_rgb(TONES["bad"]))
    assert_legends_clear(fig)
    renderer = fig.canvas.get_renderer()
    assert overlap(box.get_window_extent(renderer), ax.get_window_extent(renderer)) == 0
    plt.close(fig)
    fig, ax = plt.subplots()
    assert legend_right(ax) is None  # nothing labelled, no empty legend
    plt.close(fig)
