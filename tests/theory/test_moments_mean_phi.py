"""percgrad.theory.moments.mean_phi, E[φ(h)] for h ~ N(0, q) (what residual chains carry
forward): closed forms, symmetry and Stein's identity, Monte Carlo, non-finite inputs."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from percgrad import catalog
from percgrad.theory.moments import mean_phi


def _sigmoid(h: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-h))


# Our own φ, written independently of the catalog.
PHI: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda h: np.maximum(h, 0.0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
}


# ---------------------------------------------------------------- E[φ]


@pytest.mark.parametrize("q", [0.0, 1e-3, 0.7, 1.0, 9.0, 1e4])
def test_mean_phi_closed_forms(q: float) -> None:
    half = math.sqrt(q / (2 * math.pi))
    assert mean_phi("identity", q) == 0.0
    assert mean_phi("relu", q) == pytest.approx(half, rel=1e-15, abs=0)
    assert mean_phi("leaky-relu", q) == pytest.approx((1 - catalog.LEAKY_SLOPE) * half, rel=1e-15, abs=0)


@pytest.mark.parametrize("q", [0.0, 0.3, 1.0, 3.0, 50.0, 1e4])
def test_mean_phi_smooth_by_symmetry_and_stein(q: float) -> None:
    assert mean_phi("tanh", q) == pytest.approx(0.0, abs=1e-12)  # odd
    assert mean_phi("sigmoid", q) == pytest.approx(0.5, rel=1e-12)  # σ(h) − ½ is odd
    # E[h Φ(h)] = q E[Φ′(h)] (Stein) = q / sqrt(2π(1 + q)).
    assert mean_phi("gelu", q) == pytest.approx(q / math.sqrt(2 * math.pi * (1 + q)), rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("q", [0.2, 1.0, 6.0])
def test_mean_phi_matches_monte_carlo(activation: str, q: float) -> None:
    h = math.sqrt(q) * np.random.default_rng(7).standard_normal(1_000_000)
    mc = float(np.mean(PHI[activation](h)))
    assert mean_phi(activation, q) == pytest.approx(mc, abs=3e-3 * max(1.0, math.sqrt(q)))


def test_mean_phi_non_finite() -> None:
    assert math.isnan(mean_phi("tanh", math.inf))
    assert mean_phi("relu", math.inf) == math.inf
    assert math.isnan(mean_phi("relu", math.nan))
