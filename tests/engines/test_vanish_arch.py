"""Mean-field theory of gradient flow against measurement, through the real pipeline
(chain_spec → run_vanish → report), for the four chain architectures: plain, residual,
layernorm and residual-layernorm; the init gain that a layer norm makes irrelevant; the
residual ReLU chain that the theory under-predicts; percgrad.vanish builds the same chain.

Every case here is width 256, depth 20, batch 16, float64, the finite-difference check off,
seeds 0, 1, 2: the statistic is the median over layers of measured/predicted factor
(``summary.median_measured_over_predicted``), and the test takes its median over the seeds.
"""

from __future__ import annotations

import math
import statistics
from functools import cache

import pytest

import percgrad
from percgrad.engines.vanish import run_vanish
from percgrad.reports.run import Report
from percgrad.spec.build import chain_spec

WIDTH, DEPTH, BATCH = 256, 20, 16
SEEDS = (0, 1, 2)
TOLERANCE = 0.15
"""measured/predicted within ±15% of 1."""

ARCHS = {
    "plain": {"residual": False, "norm": "none"},
    "residual": {"residual": True, "norm": "none"},
    "layernorm": {"residual": False, "norm": "layer"},
    "residual-layernorm": {"residual": True, "norm": "layer"},
}
"""chain_spec's options for each architecture (what --compare-arch varies)."""

INIT = {"sigmoid": "xavier", "tanh": "xavier", "relu": "kaiming"}
"""The init of each activation: Glorot for the saturating ones, He for ReLU."""

AGREEING = [(act, arch) for act in ("sigmoid", "tanh") for arch in ARCHS] + [
    ("relu", "plain"), ("relu", "layernorm")]
"""Where the theory must match the measurement: sigmoid and tanh in all four architectures,
ReLU without a skip connection (with one, see test_residual_relu_...)."""


@cache
def run(activation: str, arch: str, seed: int, gain: float = 1.0) -> Report:
    spec = chain_spec(depth=DEPTH, width=WIDTH, batch=BATCH, activation=activation,
                      init=INIT[activation], gain=gain, seed=seed, check="off", device="cpu",
                      dtype="float64", bound=False, **ARCHS[arch])
    assert spec.arch == arch
    report, _ = run_vanish(spec)
    return report


def ratio(report: Report) -> float:
    assert report.summary is not None
    value = report.summary.median_measured_over_predicted
    assert value is not None and math.isfinite(value)
    return value


def median_ratio(activation: str, arch: str, gain: float = 1.0) -> float:
    return statistics.median(ratio(run(activation, arch, seed, gain)) for seed in SEEDS)


@pytest.mark.parametrize(("activation", "arch"), AGREEING)
def test_measured_factor_matches_mean_field_theory(activation: str, arch: str) -> None:
    reports = [run(activation, arch, seed) for seed in SEEDS]
    for report in reports:
        assert report.finite
        assert report.settings["arch"] == arch
        assert report.theory is not None and report.theory.arch == arch
        assert len(report.theory.chi) == DEPTH - 1
        predicted = [layer.predicted_factor for layer in report.layers[:-1]]
        assert predicted == pytest.approx(report.theory.chi)
        assert report.layers[-1].predicted_factor is None
    median = statistics.median(ratio(r) for r in reports)
    assert abs(median - 1) <= TOLERANCE, (activation, arch, INIT[activation],
                                          [ratio(r) for r in reports])


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_layernorm_without_bias_makes_the_init_gain_irrelevant(activation: str) -> None:
    """Without bias a layer norm divides out the scale of W: σ_w² cancels from the predicted
    χ_k (up to ε), and the measured factors, on the same random draws, do not move either
    (seeds 0 and 1: the invariance holds draw by draw)."""
    low = [run(activation, "layernorm", seed, gain=0.5) for seed in SEEDS[:2]]
    high = [run(activation, "layernorm", seed, gain=2.0) for seed in SEEDS[:2]]
    for a, b in zip(low, high):
        assert a.settings["bias"] is False
        assert a.theory is not None and b.theory is not None
        assert b.theory.sigma_w2 == pytest.approx(16 * a.theory.sigma_w2)  # gain² apart
        middle = slice(1, DEPTH - 2)
        assert a.theory.chi[middle] == pytest.approx(b.theory.chi[middle], rel=1e-3)
        assert a.summary is not None and b.summary is not None
        assert a.summary.measured_mean_factor == pytest.approx(b.summary.measured_mean_factor,
                                                               rel=1e-3)
        assert ratio(a) == pytest.approx(ratio(b), rel=1e-3)
    for reports in (low, high):
        assert abs(statistics.median(ratio(r) for r in reports) - 1) <= TOLERANCE


def test_residual_relu_is_flagged_and_measured_above_predicted() -> None:
    """h_k = h_k−1 + relu(W_k h_k−1): the skip sums grow without bound and the theory's
    leading-order 1 + χ under-predicts the growth of ‖δ‖²; the summary says so
    ("residual-unbounded") and the measurement sits clearly above the prediction."""
    reports = [run("relu", "residual", seed) for seed in SEEDS]
    for report in reports:
        assert report.summary is not None
        assert "residual-unbounded" in report.summary.notes
        assert "relu-mse" not in report.summary.notes
        assert report.summary.predicted_mean_factor == pytest.approx(2.0)
        assert report.summary.measured_mean_factor > report.summary.predicted_mean_factor
        assert ratio(report) > 1 + TOLERANCE
    assert 1.2 < median_ratio("relu", "residual") < 2.0


def test_relu_plain_and_layernorm_notes() -> None:
    plain = run("relu", "plain", 0)
    layernorm = run("relu", "layernorm", 0)
    assert plain.summary is not None and layernorm.summary is not None
    assert "relu-mse" in plain.summary.notes
    assert "residual-unbounded" not in plain.summary.notes + layernorm.summary.notes


def test_vanish_api_matches_the_spec_pipeline() -> None:
    """percgrad.vanish builds the same chain as chain_spec(...) + run_vanish."""
    via_api = percgrad.vanish(depth=DEPTH, width=WIDTH, batch=BATCH, activation="tanh",
                              init="glorot", residual=True, norm="layer", seed=0, check="off", bound=False,
                              device="cpu", dtype="float64")
    via_spec = run("tanh", "residual-layernorm", 0)
    assert via_api.to_dict(timing=False) == via_spec.to_dict(timing=False)
