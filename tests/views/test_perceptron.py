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


def test_bce_saturation_warning_agrees_with_the_cancellation() -> None:
    """Issue 17: `single --inputs 3 --loss bce` showed "σ′ cancels: ∂E/∂a = (o−t)/n" and right
    under it "every gradient through it is multiplied by 0.014"."""
    report = percgrad.single(inputs=3, loss="bce", **CPU)
    assert [w.kind for w in report.warnings] == ["saturated-cancels"]
    text = " ".join(render(report, 80).split())
    assert "σ′ cancels: ∂E/∂a = (o−t)/n" in text
    assert "multiplied by 0.014" not in text
    assert "with bce σ′ cancels, so ∂E/∂a = (o−t)/n is not multiplied by it" in text
    # with mse the σ′ factor is there, and the warning says so
    mse = percgrad.single(inputs=3, **CPU)
    assert [w.kind for w in mse.warnings] == ["saturated"]
    assert "multiplied by 0.014" in " ".join(render(mse, 80).split())


def test_bce_output_layer_is_not_said_to_cut_gradients() -> None:
    report = percgrad.multi(hidden="3", loss="bce", gain=4.0, **CPU)
    kinds = {w.kind: w.layers for w in report.warnings}
    assert kinds["saturated-cancels"] == (2,)
    assert 2 not in kinds.get("saturated", ())


def test_single_rel_err_says_it_is_of_the_layer_max() -> None:
    """Issue 17: row 1 of `single --inputs 3` shows max|Δ| 5.3e-10 on 1.164e-04 and rel.err
    6.2e-07: divided by the layer's largest gradient, which the header and legend now say."""
    from percgrad.reports.numbers import num

    report = percgrad.single(inputs=3, **CPU)
    text = render(report, 140)
    lines = text.splitlines()
    header = next(k for k, line in enumerate(lines) if line.startswith("j ") and "analytic" in line)
    assert lines[header - 1].split()[-1] == "rel.err" and lines[header].split()[-1] == "(layer)"
    flat = " ".join(text.split())
    assert ("rel.err (layer): the row's |a−b| over the layer's largest |a|, |b|, as the check "
            "computes it") in flat
    g = report.layers[0].grad
    assert g.analytic is not None and g.autograd is not None and g.numeric is not None
    scale = max(abs(g.analytic).max(), abs(g.autograd).max(), abs(g.numeric).max())
    row = lines[header + 2].split()
    gap = max(abs(g.analytic[0, 0] - g.autograd[0, 0]), abs(g.analytic[0, 0] - g.numeric[0, 0]))
    assert row[-1] == num(float(gap / scale), 2)


def test_the_summary_bars_say_they_are_empty_when_every_gradient_is_0() -> None:
    """relu with every unit inactive: every ‖∂E/∂W‖ is 0 (before: "bars: log scale 1 … 1")."""
    report = percgrad.multi(inputs=2, outputs=1, x="-1,-1", activation="relu", seed=1, **CPU)
    assert all(layer.grad_norm == 0 for layer in report.layers)
    text = " ".join(render(report, 200).split())
    assert "bars: empty, as every ‖∂E/∂W‖ is exactly 0" in text
    assert "log scale 1 … 1" not in text
