"""Plots of single, multi and vanish (views/plots/perceptron.py): every kind read back as an
image that is not blank, and the predicted curve anchored at the last layer."""

from __future__ import annotations

import numpy as np
import pytest

from percgrad import api
from percgrad.views.plots import perceptron


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
