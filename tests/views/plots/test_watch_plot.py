"""The plot of ``watch`` (views/plots/watch.py): a PNG of sane size for a hand-built run, for a
run of many modules, a clear error when nothing was watched, and the conventions every plot
shares (solid measured, dotted references and verdict marks, a colour each, legends off the data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from percgrad.errors import PercgradError
from percgrad.reports.watch import ModuleTrack, NonFinite, WatchReport, WatchVerdict
from percgrad.views.plots.figure import MEASURED, OKABE_ITO, REFERENCE, pyplot
from percgrad.views.plots.watch import (
    USUAL_RATIO,
    VERDICT_COLOURS,
    VERDICT_DASHES,
    draw_watch,
    save_watch_plot,
)
from views.plots.plot_checks import (
    assert_legends_clear,
    assert_symbols_in_mathtext,
    colour,
    data_axes,
    drawn,
    labels,
    lines,
)


def _report(n_modules: int, n_steps: int, every: int = 1) -> WatchReport:
    steps = list(range(0, n_steps * every, every))
    mods = []
    for i in range(n_modules):
        grads: list[float | None] = [10.0 ** (i / 4 - 3) * (1 + k) if k < n_steps - 3
                                     else float("nan") for k in range(n_steps)]
        ratios: list[float | None] = [1e-3 * (1 + i) if k < n_steps - 3 else None
                                      for k in range(n_steps)]
        mods.append(ModuleTrack(f"layers.{i}", "Linear", 10, [], grads, [1.0] * n_steps, ratios,
                                True))
    loss: list[float | None] = [1.0 / (k + 1) for k in range(n_steps - 3)] + [None] * 3
    last = steps[-3]
    verdicts = [WatchVerdict("vanishing", 0, ["layers.0"], 0.01, threshold=0.1),
                WatchVerdict("update-high", steps[1], ["layers.1"], 0.5, threshold=0.1),
                WatchVerdict("non-finite", last, ["layers.1"])]
    return WatchReport("train.py", ["Net"], every, steps, loss, mods, [], verdicts,
                       NonFinite(last, "forward", "layers.1", "Linear", "aten.exp"),
                       total_steps=n_steps * every)


def _png(path: Path) -> np.ndarray:
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(matplotlib.image.imread(path))


@pytest.mark.parametrize(("n_modules", "n_steps", "every"), [(4, 30, 1), (60, 12, 10)])
def test_the_plot_is_a_png_of_sane_size(tmp_path: Path, n_modules: int, n_steps: int,
                                         every: int) -> None:
    path = tmp_path / "watch.png"
    save_watch_plot(_report(n_modules, n_steps, every), path)
    image = _png(path)
    height, width = image.shape[:2]
    assert 800 <= width <= 1000 and 600 <= height <= 1700
    assert 10_000 < path.stat().st_size < 2_000_000
    assert image[..., :3].std() > 0.05  # not blank


def test_nothing_watched_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PercgradError, match="nothing to plot"):
        save_watch_plot(WatchReport("t.py", [], 1), tmp_path / "w.png")
    assert not (tmp_path / "w.png").exists()


def test_the_shared_conventions_hold() -> None:
    fig = drawn(draw_watch(_report(4, 30)))
    heat, loss, ratio = data_axes(fig)
    (median,) = lines(ratio, MEASURED)
    assert median.get_label() == "median" and colour(median) == OKABE_ITO[0]
    (usual,) = lines(ratio, REFERENCE)
    assert list(usual.get_ydata()) == [USUAL_RATIO, USUAL_RATIO]
    (curve,) = lines(loss, MEASURED)
    assert curve.get_marker() == "."
    # verdict marks are references: dotted (dots of length 1), one colour-blind-safe colour each
    assert all(dashes[1][0] == 1 for dashes in VERDICT_DASHES.values())
    assert len(set(VERDICT_COLOURS.values())) == len(VERDICT_COLOURS)
    assert set(VERDICT_COLOURS.values()) <= set(OKABE_ITO)
    marks = [ln for ln in lines(heat) if ln.get_linestyle() != MEASURED]
    assert {colour(ln) for ln in marks} == {VERDICT_COLOURS[k] for k in
                                            ("vanishing", "update-high", "non-finite")}
    assert_legends_clear(fig)
    assert_symbols_in_mathtext(labels(fig))
    pyplot().close(fig)
