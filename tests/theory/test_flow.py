"""The rule that names a gradient's flow (theory/flow.py): the depth scale, never negative and
infinite at the round-off of χ = 1, and the diagnosis thresholds."""

from __future__ import annotations

import math

import pytest

from percgrad.theory import flow as diagnosis
from percgrad.theory.flow import trend as diagnose


def test_depth_scale_rule_is_never_negative() -> None:
    ulp = 2.0**-52
    for chi in (1.0, 1.0 + ulp, 1.0 - ulp, 1.0 + 1e-13, 0.5, 0.861, 0.999, 1.001, 2.0, 1e-30, 1e30):
        scale = diagnosis.depth_scale(chi)
        assert scale.layers is None or scale.layers > 0, chi
        if abs(math.log(chi)) < diagnosis.CRITICAL_LOG:
            assert scale.critical and scale.layers is None, chi
        else:
            assert not scale.critical
            assert scale.layers == pytest.approx(1.0 / abs(math.log(chi)))
            assert scale.growing == (chi > 1.0)
    for chi in (None, 0.0, -1.0, math.nan, math.inf):
        assert diagnosis.depth_scale(chi).layers is None


@pytest.mark.parametrize("chi", [1.0, 1.0 + 2**-52, 1.0 - 2**-52])
def test_depth_scale_infinite_at_round_off_of_one(chi: float) -> None:
    from percgrad.theory.flow import depth_scale

    scale = depth_scale(chi)
    assert scale.layers is None and scale.critical and not scale.growing
    assert depth_scale(0.5).layers == pytest.approx(1 / math.log(2)) and not depth_scale(0.5).growing
    assert depth_scale(2.0).growing and depth_scale(2.0).layers == pytest.approx(1 / math.log(2))


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


def test_the_trend_is_not_tilted_by_one_odd_layer() -> None:
    from percgrad.theory.flow import trend_share

    # a flat body and a head whose gradient is 1000× larger (a tiny-initialised head's body)
    line = trend_share([0.6, 0.9, 1.1, 0.7, 0.8, 1e3])
    assert line.share is not None and 0.1 < line.share < 10
    assert line.breaks == (5,)
    # a steady decay of 10× per layer is read as it is, end to end
    line = trend_share([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert line.share == pytest.approx(1e-4)
    assert line.breaks == () and line.fitted[-1] == pytest.approx(1.0)
    # zeros and non-finite norms are left out of the fit; fewer than two points: no trend
    assert trend_share([0.0, math.nan, 1.0]).share is None
    assert trend_share([1.0, 0.0, 1e-3]).share == pytest.approx(1e3)
