"""percgrad.theory: closed forms, quadrature against Monte Carlo and a fine grid, the q and χ
recursions, depth scale and the diagnosis thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from percgrad import catalog
from percgrad.theory.flow import trend as diagnose
from percgrad.theory.meanfield import Theory, predict
from percgrad.theory.moments import gauss_expectation, moments

MC_SAMPLES = 1_000_000


def _sigmoid(h: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-h))


# Our own φ and φ′, written independently of the catalog.
PHI = {
    "sigmoid": (_sigmoid, lambda h: _sigmoid(h) * (1.0 - _sigmoid(h))),
    "tanh": (np.tanh, lambda h: 1.0 / np.cosh(h) ** 2),
}


def fine_expectation(f, q: float) -> float:
    """E[f(h)], h ~ N(0, q), by the trapezoid rule on a grid that resolves unit-scale features
    of f however wide the Gaussian is (an independent reference for the quadrature)."""
    s = math.sqrt(q)
    half = 12.0 * s
    step = min(s, 1.0) / 50.0
    h = np.linspace(-half, half, int(2 * half / step) + 1)
    density = np.exp(-h * h / (2.0 * q)) / math.sqrt(2.0 * math.pi * q)
    with np.errstate(over="ignore"):
        values = f(h)
    return float(np.trapezoid(values * density, h))


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("q", [0.0, 1e-3, 0.5, 1.0, 7.25, 1e4])
def test_relu_moments_are_exact(q: float) -> None:
    assert moments("relu", q) == (q / 2.0, 0.5)


@pytest.mark.parametrize("q", [0.3, 1.0, 12.0])
def test_leaky_relu_closed_form(q: float) -> None:
    slope = 0.01
    e_phi2, e_dphi2 = moments("leaky-relu", q)
    # E[φ²] = q/2 (positive half) + slope²·q/2 (negative half); E[φ′²] = (1 + slope²)/2.
    assert e_phi2 == pytest.approx(q / 2 + slope**2 * q / 2, rel=1e-15)
    assert e_dphi2 == pytest.approx((1 + slope**2) / 2, rel=1e-15)
    assert slope == catalog.LEAKY_SLOPE


def test_identity_moments() -> None:
    assert moments("identity", 3.5) == (3.5, 1.0)


@pytest.mark.parametrize("sigma_w2", [0.5, 1.0, 2.0, 3.7])
def test_relu_chi_is_half_sigma_w2_exactly(sigma_w2: float) -> None:
    depth = 7
    th = predict("relu", [sigma_w2] * depth, [0.0] * depth, q_in=1.3)
    assert len(th.chi) == depth - 1
    assert th.chi == [sigma_w2 / 2] * (depth - 1)


def test_relu_chi_uses_next_layers_sigma_w2() -> None:
    s = [1.0, 2.0, 4.0, 0.5]
    th = predict("relu", s, [0.0] * 4, q_in=1.0)
    assert th.chi == [2.0 / 2, 4.0 / 2, 0.5 / 2]


# ---------------------------------------------------------------- quadrature


@pytest.mark.parametrize("q", [1e-4, 0.25, 1.0, 3.0, 40.0, 1e3])
def test_gauss_expectation_of_h_squared_is_q(q: float) -> None:
    assert gauss_expectation(lambda h: h**2, q) == pytest.approx(q, rel=1e-10)


@pytest.mark.parametrize("q", [0.0, 0.5, 9.0, 1e3])
def test_gauss_expectation_of_one_is_one(q: float) -> None:
    assert gauss_expectation(np.ones_like, q) == pytest.approx(1.0, rel=1e-12)


def test_gauss_expectation_of_h4_is_3q2() -> None:
    assert gauss_expectation(lambda h: h**4, 2.0) == pytest.approx(3 * 2.0**2, rel=1e-10)


def test_gauss_expectation_of_odd_function_is_zero() -> None:
    assert abs(gauss_expectation(lambda h: h**3 + np.tanh(h), 2.0)) < 1e-12


def test_gauss_expectation_at_zero_variance_is_f_of_zero() -> None:
    assert gauss_expectation(lambda h: np.cos(h) + 2.0, 0.0) == pytest.approx(3.0, rel=1e-12)


def test_smooth_moments_at_zero_variance() -> None:
    assert moments("sigmoid", 0.0) == pytest.approx((0.25, 1 / 16), rel=1e-12)
    assert moments("tanh", 0.0) == pytest.approx((0.0, 1.0), abs=1e-12)


def _monte_carlo(activation: str, q: float) -> tuple[float, float]:
    rng = np.random.default_rng(20240501)
    h = math.sqrt(q) * rng.standard_normal(MC_SAMPLES)
    phi, dphi = PHI[activation]
    with np.errstate(over="ignore"):
        return float(np.mean(phi(h) ** 2)), float(np.mean(dphi(h) ** 2))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("q", [0.1, 1.0, 4.0])
def test_smooth_moments_match_monte_carlo(activation: str, q: float) -> None:
    e_phi2, e_dphi2 = moments(activation, q)
    mc_phi2, mc_dphi2 = _monte_carlo(activation, q)
    assert e_phi2 == pytest.approx(mc_phi2, rel=1e-2)
    assert e_dphi2 == pytest.approx(mc_dphi2, rel=1e-2)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("q", [0.1, 1.0, 4.0])
def test_smooth_moments_match_a_fine_grid(activation: str, q: float) -> None:
    phi, dphi = PHI[activation]
    e_phi2, e_dphi2 = moments(activation, q)
    assert e_phi2 == pytest.approx(fine_expectation(lambda h: phi(h) ** 2, q), rel=1e-4)
    assert e_dphi2 == pytest.approx(fine_expectation(lambda h: dphi(h) ** 2, q), rel=1e-4)


# Regression: a single 127-node Gauss–Hermite rule spaces its nodes ~0.28·√q apart near 0 and
# cannot resolve φ′², which is O(1) wide whatever q is: tanh's E[φ′²] came out 0.6% high at q=9,
# 4.7% at q=16, 50% at q=50 and 4.7× at q=500 (0.111 instead of 0.0238).


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("q", [16.0, 100.0, 500.0])
def test_smooth_moments_large_q_match_monte_carlo(activation: str, q: float) -> None:
    e_phi2, e_dphi2 = moments(activation, q)
    mc_phi2, mc_dphi2 = _monte_carlo(activation, q)
    assert e_phi2 == pytest.approx(mc_phi2, rel=1e-2)
    assert e_dphi2 == pytest.approx(mc_dphi2, rel=3e-2)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("q", [3.9, 4.1, 9.0, 16.0, 25.0, 100.0, 500.0, 5000.0, 1e6])
def test_smooth_moments_at_large_q_match_a_fine_grid(activation: str, q: float) -> None:
    phi, dphi = PHI[activation]
    e_phi2, e_dphi2 = moments(activation, q)
    assert e_phi2 == pytest.approx(fine_expectation(lambda h: phi(h) ** 2, q), rel=1e-4)
    assert e_dphi2 == pytest.approx(fine_expectation(lambda h: dphi(h) ** 2, q), rel=1e-4)


@pytest.mark.parametrize(("activation", "integral"), [("sigmoid", 1.0 / 6.0), ("tanh", 4.0 / 3.0)])
def test_dphi2_decays_like_one_over_sqrt_q(activation: str, integral: float) -> None:
    # For q ≫ 1 only |h| = O(1) contributes: E[φ′²] ≈ ∫φ′² dh / √(2πq).
    q = 1e6
    expected = integral / math.sqrt(2 * math.pi * q)
    assert moments(activation, q)[1] == pytest.approx(expected, rel=1e-3)


# ---------------------------------------------------------------- recursions


@pytest.mark.parametrize("sigma_w2", [0.5, 1.0, 1.7])
def test_identity_q_recursion(sigma_w2: float) -> None:
    depth, q_in = 9, 0.8
    th = predict("identity", [sigma_w2] * depth, [0.0] * depth, q_in)
    expected = [sigma_w2 ** (k + 1) * q_in for k in range(depth)]
    assert th.q == pytest.approx(expected, rel=1e-12)
    assert th.chi == pytest.approx([sigma_w2] * (depth - 1), rel=1e-15)


def test_identity_q_recursion_with_bias() -> None:
    s_w, s_b, q_in = 1.5, 0.2, 2.0
    th = predict("identity", [s_w] * 4, [s_b] * 4, q_in)
    q = s_w * q_in + s_b
    expected = [q]
    for _ in range(3):
        q = s_w * q + s_b
        expected.append(q)
    assert th.q == pytest.approx(expected, rel=1e-12)


def test_relu_q_recursion() -> None:
    th = predict("relu", [2.0] * 5, [0.0] * 5, q_in=1.25)
    # He init: q is preserved, σ_w²·q/2 = q.
    assert th.q == pytest.approx([2.5] * 5, rel=1e-15)


@pytest.mark.parametrize(
    ("activation", "sigma_w2", "sigma_b2"),
    [("sigmoid", 1.0, 0.0), ("sigmoid", 3.0, 0.1), ("tanh", 1.0, 0.0), ("tanh", 2.25, 0.05)],
)
def test_smooth_recursion_matches_own_integration(
    activation: str, sigma_w2: float, sigma_b2: float
) -> None:
    depth, q_in = 6, 1.1
    phi, dphi = PHI[activation]
    th = predict(activation, [sigma_w2] * depth, [sigma_b2] * depth, q_in)
    q = [sigma_w2 * q_in + sigma_b2]
    for _ in range(depth - 1):
        q.append(sigma_w2 * fine_expectation(lambda h: phi(h) ** 2, q[-1]) + sigma_b2)
    chi = [sigma_w2 * fine_expectation(lambda h: dphi(h) ** 2, qk) for qk in q[:-1]]
    assert th.q == pytest.approx(q, rel=1e-4)
    assert th.chi == pytest.approx(chi, rel=1e-4)


# Regression: with the Gauss–Hermite rule alone, χ at σ_w² = 500 came out 55.5 instead of 12.1
# (tanh) and 3.49 instead of 2.15 (sigmoid).
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_saturated_recursion_matches_own_integration(activation: str) -> None:
    sigma_w2, depth, q_in = 500.0, 4, 1.0
    _, dphi = PHI[activation]
    th = predict(activation, [sigma_w2] * depth, [0.0] * depth, q_in)
    chi = [sigma_w2 * fine_expectation(lambda h: dphi(h) ** 2, qk) for qk in th.q[:-1]]
    assert th.chi == pytest.approx(chi, rel=1e-4)


# ---------------------------------------------------------------- summaries


def test_mean_chi_is_geometric_mean_and_depth_scale() -> None:
    th = Theory([1.0] * 4, [0.0] * 4, [1.0] * 4, [0.5, 0.2, 0.8])
    mean = (0.5 * 0.2 * 0.8) ** (1 / 3)
    assert th.mean_chi == pytest.approx(mean, rel=1e-14)
    assert th.depth_scale == pytest.approx(-1.0 / math.log(mean), rel=1e-14)
    assert th.depth_scale > 0


def test_depth_scale_positive_when_exploding() -> None:
    th = predict("relu", [3.0] * 5, [0.0] * 5, 1.0)
    assert th.mean_chi == pytest.approx(1.5)
    assert th.depth_scale == pytest.approx(1.0 / math.log(1.5), rel=1e-14)
    assert th.depth_scale > 0


@pytest.mark.parametrize("chi", [1.0, 1.0 + 2**-52, 1.0 - 2**-52])
def test_depth_scale_infinite_at_round_off_of_one(chi: float) -> None:
    from percgrad.theory.flow import depth_scale

    scale = depth_scale(chi)
    assert scale.layers is None and scale.critical and not scale.growing
    assert depth_scale(0.5).layers == pytest.approx(1 / math.log(2)) and not depth_scale(0.5).growing
    assert depth_scale(2.0).growing and depth_scale(2.0).layers == pytest.approx(1 / math.log(2))


def test_depth_scale_none_at_the_edge_and_for_one_layer() -> None:
    assert predict("relu", [2.0] * 5, [0.0] * 5, 1.0).depth_scale is None
    one = predict("tanh", [1.0], [0.0], 1.0)
    assert one.chi == []
    assert one.mean_chi is None
    assert one.depth_scale is None


@pytest.mark.parametrize(
    ("factor", "expected"),
    [
        (0.0, "vanishing"),
        (0.5, "vanishing"),
        (0.8999999, "vanishing"),
        (0.9, "stable"),
        (1.0, "stable"),
        (1.1, "stable"),
        (1.1000001, "exploding"),
        (1e300, "exploding"),
        (None, "undetermined"),
        (float("nan"), "undetermined"),
        (float("inf"), "undetermined"),
    ],
)
def test_diagnose_thresholds(factor: float | None, expected: str) -> None:
    assert diagnose(factor) == expected
