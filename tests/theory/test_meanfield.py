"""percgrad.theory.meanfield: the q and χ recursions (closed forms and our own integration), the
mean χ and the depth scale."""

from __future__ import annotations

import math

import pytest

from percgrad.theory.meanfield import Theory, predict
from theory_util import PHI, fine_expectation


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


def test_depth_scale_none_at_the_edge_and_for_one_layer() -> None:
    assert predict("relu", [2.0] * 5, [0.0] * 5, 1.0).depth_scale is None
    one = predict("tanh", [1.0], [0.0], 1.0)
    assert one.chi == []
    assert one.mean_chi is None
    assert one.depth_scale is None
