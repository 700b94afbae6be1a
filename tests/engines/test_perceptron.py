"""One run of ``single`` or ``multi`` (engines/perceptron.py): the check passes a right
derivative and fails a wrong one (full and fast), and ``--loss sum`` makes E the output itself
(the textbook tanh neuron included)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import percgrad
from percgrad.engines import perceptron as experiment
from percgrad.spec.run import Spec


def _single(check="full", **kw):
    return Spec("single", (3, 1), device="cpu", dtype="float64", check=check, seed=1, **kw)


def test_correct_derivative_passes():
    report = experiment.run(_single())
    assert report.check.passed is True
    assert report.check.failures == []
    assert report.check.max_rel_error <= 1e-6


def test_wrong_derivative_fails_full_check(wrong_sigmoid):
    report = experiment.run(_single())
    check = report.check
    assert check.passed is False
    assert check.method == "full"
    assert check.max_rel_error > 0.1
    assert check.failures
    assert all(f.layer == 1 for f in check.failures)
    # Doubling σ′ doubles every entry: the worst one is at the largest |x_j|.
    j = int(abs(report.input[0]).argmax())
    assert {f.entry for f in check.failures} == {f"W1[0,{j}]"}, check.failures
    assert {f.against for f in check.failures} == {"autograd", "numeric"}
    for f in check.failures:
        assert f.analytic == pytest.approx(2 * f.reference, rel=1e-6)
        assert f.rel_error > f.tolerance
    assert report.layers[0].vs_autograd.worst == f"W1[0,{j}]"


def test_wrong_derivative_fails_fast_check(wrong_sigmoid):
    report = experiment.run(
        Spec("multi", (3, 4, 2), device="cpu", dtype="float64", check="fast", seed=1)
    )
    assert report.check.passed is False
    assert report.check.method == "fast"
    assert any(f.against == "autograd" and f.layer == 1 for f in report.check.failures)
    assert any(f.against == "direction" and f.direction for f in report.check.failures)


# ---------------------------------------------------------------- --loss sum

CPU = {"device": "cpu"}


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_loss_sum_is_the_output_itself(activation: str) -> None:
    single = percgrad.single(batch=3, loss="sum", activation=activation, **CPU)
    assert single.output is not None and single.out is not None
    assert single.loss == pytest.approx(float(single.output.sum()), rel=1e-6)
    np.testing.assert_array_equal(single.out.dE_do, 1.0)
    multi = percgrad.multi(hidden="3", outputs=2, batch=2, loss="sum", activation=activation, **CPU)
    assert multi.output is not None
    assert multi.loss == pytest.approx(float(multi.output.sum()), rel=1e-6)
    for report in (single, multi):
        assert report.check.passed is True
        for layer in report.layers:
            assert layer.grad.analytic is not None and layer.grad.autograd is not None
            np.testing.assert_allclose(layer.grad.analytic, layer.grad.autograd, rtol=1e-5,
                                       atol=1e-7)


@pytest.mark.parametrize(("x", "w"), [
    ((2.0, 0.0), (-3.0, 1.0)),    # micrograd's neuron: o = tanh(0.8814) = 0.7071
    ((2.0, -3.0), (-3.0, -1.0)),  # the values the brief quoted (a = 3.88, a saturated neuron)
])
def test_loss_sum_reproduces_the_textbook_tanh_neuron(x: tuple[float, float],
                                                      w: tuple[float, float]) -> None:
    b = 6.8813735870195432
    report = percgrad.single(x=list(x), w=list(w), b=b, activation="tanh", loss="sum",
                             dtype="float64", **CPU)
    a = x[0] * w[0] + x[1] * w[1] + b
    o = math.tanh(a)
    slope = 1.0 - o * o
    assert report.output is not None
    assert float(report.output[0, 0]) == pytest.approx(o, rel=1e-12)
    assert report.loss == pytest.approx(o, rel=1e-12)
    layer = report.layers[0]
    assert layer.grad.analytic is not None and layer.bias_grad is not None
    assert layer.bias_grad.analytic is not None
    np.testing.assert_allclose(layer.grad.analytic[0], [slope * x[0], slope * x[1]], rtol=1e-12)
    np.testing.assert_allclose(layer.bias_grad.analytic, [slope], rtol=1e-12)
    if x == (2.0, 0.0):  # Karpathy's numbers: o = 0.7071, ∂o/∂w = [1, 0], ∂o/∂b = 0.5
        assert float(report.output[0, 0]) == pytest.approx(0.7071, abs=5e-5)
        np.testing.assert_allclose(layer.grad.analytic[0], [1.0, 0.0], atol=1e-6)
        np.testing.assert_allclose(layer.bias_grad.analytic, [0.5], atol=1e-6)
