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
