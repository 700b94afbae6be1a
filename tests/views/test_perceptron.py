"""What ``single`` and ``multi`` show (views/perceptron.py)."""

from __future__ import annotations

import percgrad
from golden_util import render

CPU = {"device": "cpu"}


def test_loss_sum_forward_pass_shows_no_target() -> None:
    """E = Σ o has no target (the header says so, and multi's forward pass leaves t out), but
    single's forward-pass table still has a t column (t = 1)."""
    text = render(percgrad.single(inputs=3, loss="sum", check="off", **CPU), 200)
    assert "no target" in text
    header = next(line for line in text.splitlines() if line.split()[:2] == ["sample", "x"])
    assert "t" not in header.split(), header


def test_single_and_multi_views_show_their_tables() -> None:
    from percgrad.views import perceptron

    header = render(perceptron.single(percgrad.single(inputs=3, **CPU))[0], 200)
    assert "percgrad single — one neuron" in header and "o = σ(x·wᵀ)   (w: 1×3)" in header
    multi = percgrad.multi(hidden="3", **CPU)
    text = "".join(render(part, 200) for part in perceptron.multi(multi))
    assert "W1" in text and "W2" in text
