"""The phase-diagram theory (theory.py): the fixed point q*, χ₁ at q*, the critical line, the
depth scale ξ and the correlation map, each against an independent fine-grid integral or
Monte Carlo written here with our own φ."""

from __future__ import annotations

import math

import numpy as np
import pytest

from percgrad.theory.flow import depth_scale
from percgrad.theory.phase import (
    chi1,
    correlation_depth,
    correlation_map,
    critical_sigma_w2,
    fixed_point_c,
    fixed_point_q,
    joint_expectation,
)

MC = 2_000_000


def fine(f, q: float) -> float:
    """E[f(h)], h ~ N(0, q): the trapezoid rule on a fine grid (independent of the quadrature)."""
    s = math.sqrt(q)
    h = np.linspace(-12 * s, 12 * s, 6001)  # the trapezoid rule is spectrally accurate here
    density = np.exp(-h * h / (2 * q)) / math.sqrt(2 * math.pi * q)
    return float(np.trapezoid(f(h) * density, h))


def fine_q_star(sw: float, sb: float) -> float:
    """q* by plain iteration of the fine-grid variance map, then bisection on it."""
    def gap(q: float) -> float:
        return sw * fine(lambda h: np.tanh(h) ** 2, q) + sb - q

    lo, hi = 1e-6, 50.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if gap(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def fine_chi1(sw: float, sb: float) -> float:
    q = fine_q_star(sw, sb)
    return sw * fine(lambda h: 1.0 / np.cosh(h) ** 4, q)


@pytest.mark.parametrize(("sw", "sb"), [(1.5, 0.05), (2.5, 0.2), (4.0, 0.3), (0.8, 0.1)])
def test_fixed_point_and_chi1_match_a_fine_grid(sw: float, sb: float) -> None:
    q = fixed_point_q("tanh", sw, sb)
    assert q == pytest.approx(fine_q_star(sw, sb), rel=1e-6)
    # 1e-5: the 127-node Gauss–Hermite rule of gauss_expectation resolves φ′² = sech⁴ to about
    # 1e-6 near q = 4, where it hands over to panels.
    assert chi1("tanh", sw, sb, q) == pytest.approx(fine_chi1(sw, sb), rel=1e-5)
    # q* is a fixed point of the map by Monte Carlo too (3 standard errors).
    rng = np.random.default_rng(0)
    h = math.sqrt(q) * rng.standard_normal(MC)
    values = sw * np.tanh(h) ** 2 + sb
    assert abs(values.mean() - q) < 3 * values.std() / math.sqrt(MC)
    chis = sw / np.cosh(h) ** 4
    assert abs(chis.mean() - chi1("tanh", sw, sb, q)) < 3 * chis.std() / math.sqrt(MC)


def test_xi_is_one_over_abs_log_chi1() -> None:
    for sw, sb in [(1.2, 0.1), (3.0, 0.05)]:
        c = fine_chi1(sw, sb)
        assert depth_scale(chi1("tanh", sw, sb)).layers == pytest.approx(1 / abs(math.log(c)), rel=1e-5)


def test_signal_dies_without_bias_in_the_ordered_phase() -> None:
    assert fixed_point_q("tanh", 0.9, 0.0) == 0.0
    assert chi1("tanh", 0.9, 0.0) == pytest.approx(0.9, rel=1e-12)  # φ′(0) = 1
    assert fixed_point_q("tanh", 1.5, 0.0) > 0.1
    assert fixed_point_c("tanh", 0.9, 0.0) is None  # q* = 0: c* undefined


@pytest.mark.parametrize("sb", [0.05, 0.2])
def test_critical_line_matches_a_fine_grid_root(sb: float) -> None:
    predicted = critical_sigma_w2("tanh", sb)
    assert predicted is not None
    lo, hi = predicted - 0.05, predicted + 0.05  # a bracket, checked below
    assert fine_chi1(lo, sb) < 1 < fine_chi1(hi, sb)
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        if fine_chi1(mid, sb) < 1:
            lo = mid
        else:
            hi = mid
    assert predicted == pytest.approx(0.5 * (lo + hi), abs=1e-4)
    assert fine_chi1(predicted, sb) == pytest.approx(1.0, abs=1e-6)


def test_tanh_edge_of_chaos_at_zero_bias_is_sigma_w2_one() -> None:
    assert critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("sb", [0.0, 0.1, 0.3])
def test_relu_critical_point_is_two_exactly(sb: float) -> None:
    # χ₁ = σ_w²/2 whatever q*: the root is exactly 2 (a linear function, regula falsi).
    assert critical_sigma_w2("relu", sb) == pytest.approx(2.0, abs=1e-12)
    assert chi1("relu", 2.0, 0.0) == 1.0


def test_critical_line_rises_with_bias() -> None:
    values = [critical_sigma_w2("tanh", sb) for sb in (0.0, 0.05, 0.1, 0.2, 0.3)]
    assert all(v is not None for v in values)
    assert values == sorted(values)  # type: ignore[type-var]


@pytest.mark.parametrize(("q1", "q2", "c"), [(0.5, 0.7, 0.3), (1.2, 1.2, 0.9), (3.0, 2.0, -0.4),
                                             (6.0, 5.0, 0.7)])
def test_joint_expectation_against_monte_carlo(q1: float, q2: float, c: float) -> None:
    rng = np.random.default_rng(1)
    z1, z2 = rng.standard_normal((2, MC))
    u1 = math.sqrt(q1) * z1
    u2 = math.sqrt(q2) * (c * z1 + math.sqrt(1 - c * c) * z2)
    prod = np.tanh(u1) * np.tanh(u2)
    assert abs(joint_expectation("tanh", q1, q2, c) - prod.mean()) < 4 * prod.std() / math.sqrt(MC)


def test_correlation_map_slope_at_one_is_chi1() -> None:
    # dC/dc at c = 1 is χ₁ (Poole et al.): a finite difference of the map against χ₁.
    for sw, sb in [(1.5, 0.05), (3.0, 0.3)]:
        q = fixed_point_q("tanh", sw, sb)
        eps = 1e-4
        slope = (correlation_map("tanh", sw, sb, q, 1.0) - correlation_map("tanh", sw, sb, q, 1 - eps)) / eps
        # 1e-5: the joint rule (64 × 32 nodes) against the variance map's own (127 nodes).
        assert correlation_map("tanh", sw, sb, q, 1.0) == pytest.approx(1.0, abs=1e-5)
        assert slope == pytest.approx(chi1("tanh", sw, sb, q), rel=2e-3)


def test_c_star_is_one_when_ordered_and_a_fixed_point_when_chaotic() -> None:
    assert fixed_point_c("tanh", 1.0, 0.1) == 1.0
    q = fixed_point_q("tanh", 3.0, 0.05)
    c_star = fixed_point_c("tanh", 3.0, 0.05, q)
    assert c_star is not None and 0 < c_star < 1
    assert correlation_map("tanh", 3.0, 0.05, q, c_star) == pytest.approx(c_star, abs=1e-9)
    # Independent: c* is a fixed point of the correlation map estimated by Monte Carlo.
    rng = np.random.default_rng(2)
    z1, z2 = rng.standard_normal((2, MC))
    u1 = math.sqrt(q) * z1
    u2 = math.sqrt(q) * (c_star * z1 + math.sqrt(1 - c_star**2) * z2)
    prod = np.tanh(u1) * np.tanh(u2)
    mapped = (3.0 * prod.mean() + 0.05) / q
    assert abs(mapped - c_star) < 4 * 3.0 * prod.std() / math.sqrt(MC) / q
    assert fixed_point_c("tanh", 3.0, 0.0) == 0.0  # odd φ, no bias: inputs decorrelate fully


def test_correlation_depth_follows_a_monte_carlo_network() -> None:
    # Two inputs through a wide random tanh chain: their correlation layer by layer.
    rng = np.random.default_rng(3)
    n, depth, sw, sb = 1500, 6, 2.0, 0.1
    xa = rng.standard_normal(n)
    xb = 0.5 * xa + math.sqrt(0.75) * rng.standard_normal(n)
    ha, hb = xa, xb
    measured = []
    for _ in range(depth):
        w = rng.standard_normal((n, n)) * math.sqrt(sw / n)
        b = rng.standard_normal(n) * math.sqrt(sb)
        a1, a2 = w @ ha + b, w @ hb + b
        measured.append(float(a1 @ a2 / math.sqrt((a1 @ a1) * (a2 @ a2))))
        ha, hb = np.tanh(a1), np.tanh(a2)
    q1, q2 = sw * xa @ xa / n + sb, sw * xb @ xb / n + sb
    c = (sw * xa @ xb / n + sb) / math.sqrt(q1 * q2)
    predicted = correlation_depth("tanh", sw, sb, q1, q2, c, depth)
    assert predicted[0] == pytest.approx(c)
    assert max(abs(m - p) for m, p in zip(measured, predicted)) < 0.05
