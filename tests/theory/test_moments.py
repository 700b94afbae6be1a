"""percgrad.theory.moments: E[φ²] and E[φ′²] in closed form (relu, leaky relu, identity) and by
quadrature against Monte Carlo, a fine grid and a brute-force integral of the torch bindings,
for every catalog activation; Gaussian expectations; no jump where the quadrature changes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from percgrad import catalog
from percgrad.network import functions
from percgrad.theory import moments as theory
from percgrad.theory.moments import gauss_expectation, moments
from theory_util import PHI, fine_expectation

MC_SAMPLES = 1_000_000


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


# ---------------------------------------------------------------- every catalog activation

ACTS = catalog.ACTIVATION_NAMES


def _brute_force(activation: str, q: float) -> tuple[float, float, float]:
    """(E[φ²], E[φ′²], E[φ]) for h ~ N(0, q) by the midpoint rule on 400,000 cells over ±12 sd,
    φ and φ′ from the torch bindings (not the catalog's NumPy formulas that theory reads). 0 is
    a cell edge, so a jump of φ′ there costs nothing."""
    sd = math.sqrt(q)
    cells = 400_000
    dx = 24.0 * sd / cells
    x = -12.0 * sd + dx * (np.arange(cells) + 0.5)
    weight = np.exp(-0.5 * x * x / q) * dx / math.sqrt(2.0 * math.pi * q)
    act = functions.ACTIVATIONS[activation]
    a = torch.from_numpy(x)
    with torch.no_grad():
        value = act.value(a)
        slope = act.derivative(a, value)
    phi, dphi = value.numpy(), slope.numpy()
    return float(weight @ phi**2), float(weight @ dphi**2), float(weight @ phi)


@pytest.mark.parametrize("q", [0.25, 1.0, 9.0])
@pytest.mark.parametrize("activation", ACTS)
def test_moments_equal_a_brute_force_integral(activation, q):
    e_phi2, e_dphi2, e_phi = _brute_force(activation, q)
    got_phi2, got_dphi2 = theory.moments(activation, q)
    got_phi = theory.mean_phi(activation, q)
    # E[φ] is 0 for odd φ: there it is relative to the scale √E[φ²].
    checks = (("E[φ²]", got_phi2, e_phi2, 0.0), ("E[φ′²]", got_dphi2, e_dphi2, 0.0),
              ("E[φ]", got_phi, e_phi, 1e-12 * math.sqrt(e_phi2)))
    wrong = [f"{what} = {got!r}, brute force {ref!r} (relative error {(got - ref) / ref:.2e})"
             for what, got, ref, floor in checks if got != pytest.approx(ref, rel=1e-6, abs=floor)]
    assert not wrong, f"theory of {activation} at q = {q}: " + "; ".join(wrong)


@pytest.mark.parametrize("activation", ACTS)
def test_moments_do_not_jump_where_the_quadrature_changes(activation):
    """Gauss–Hermite up to HERMITE_MAX_Q, panels beyond: the two must agree at the switch (to
    1e-4: Hermite's E[tanh′²] at q = 4 is itself only good to about 6e-5)."""
    q = theory.HERMITE_MAX_Q
    below = (*theory.moments(activation, q), theory.mean_phi(activation, q))
    above = (*theory.moments(activation, q * (1 + 1e-12)), theory.mean_phi(activation, q * (1 + 1e-12)))
    for what, lo, hi in zip(("E[φ²]", "E[φ′²]", "E[φ]"), below, above):
        assert hi == pytest.approx(lo, rel=1e-4, abs=1e-12), f"{what} of {activation}: {lo!r} → {hi!r}"
