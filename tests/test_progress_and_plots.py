"""Progress bars on a (forced) terminal, never with --json or off a terminal; every plot kind
read back as an image that is not blank."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from percgrad import api
from percgrad.views import progress
from percgrad.views.plots import perceptron


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100), buffer


def test_phases_draw_one_bar_per_phase_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    console, buffer = _terminal()
    with progress.phases(True, console) as track:
        assert track is not None
        spec = api.chain_spec(depth=6, width=16, batch=4, check="full", device="cpu",
                              dtype="float32")
        api.run_chain(spec, api.comparison("sigmoid,tanh", None, None), track)
    text = buffer.getvalue()
    for label in ("runs by activation", "finite differences", "float64 recomputation"):
        assert label in text, label


def test_no_bar_off_a_terminal_or_when_disabled() -> None:
    buffer = io.StringIO()
    with progress.phases(True, Console(file=buffer, force_terminal=False)) as track:
        assert track is None
    console, buffer = _terminal()
    with progress.phases(False, console) as track:
        assert track is None
    assert buffer.getvalue() == ""


def test_a_quick_run_shows_nothing() -> None:
    console, buffer = _terminal()
    with progress.phases(True, console) as track:
        assert track is not None
        track("finite differences")(5, 10)  # before SHOW_AFTER_S: no bar yet
    assert "finite differences" not in buffer.getvalue()


def _image(path) -> np.ndarray:
    import matplotlib.image

    return np.asarray(matplotlib.image.imread(path))


@pytest.mark.parametrize("make", [
    lambda: api.vanish(depth=8, width=32, init="xavier", activation="tanh", check="off",
                       device="cpu"),
    lambda: api.vanish(depth=6, width=16, compare="sigmoid,tanh,relu", check="off", device="cpu"),
    lambda: api.vanish(depth=5, width=16, steps=20, lr=0.5, check="off", device="cpu"),
    lambda: api.single(device="cpu"),
    lambda: api.multi(hidden=[6, 6], device="cpu"),
], ids=["vanish", "compare", "steps", "single", "multi"])
def test_every_plot_kind_is_a_real_image(tmp_path, make) -> None:
    report = make()
    path = tmp_path / "plot.png"
    perceptron.save_plot(report, path)
    img = _image(path)
    assert img.ndim == 3 and img.shape[0] >= 400 and img.shape[1] >= 600
    # not blank: many distinct colours, and a fair share of non-white pixels
    rgb = img[..., :3].reshape(-1, 3)
    assert len(np.unique((rgb * 255).astype(int), axis=0)) > 50
    assert float((rgb.mean(axis=1) < 0.9).mean()) > 0.02


def test_the_predicted_curve_is_anchored_at_the_last_layer() -> None:
    report = api.vanish(depth=8, width=64, init="xavier", activation="tanh", check="off",
                        device="cpu")
    predicted = perceptron.predicted_deltas(report)
    assert predicted is not None and len(predicted) == 8
    assert predicted[-1] == pytest.approx(report.layers[-1].delta_norm)
    assert report.theory is not None
    # each step down multiplies ‖δ‖ by √χ_k
    for k in range(7):
        assert predicted[k] == pytest.approx(predicted[k + 1] * report.theory.chi[k] ** 0.5)
