"""The rules every gradient check shares (spec/check.py): the tolerance of each dtype and what
``--check auto`` chooses."""

from __future__ import annotations

import math

import pytest

from percgrad.errors import PercgradError
from percgrad.spec.check import FULL_CHECK_MAX_ENTRIES, TOLERANCES, method, tolerance


def test_tolerance_is_the_dtypes_unless_given() -> None:
    assert tolerance("float32") == TOLERANCES["float32"] == 1e-3
    assert tolerance("float64") == TOLERANCES["float64"] == 1e-6
    assert tolerance("float32", 1e-5) == 1e-5
    for bad in (0, -1e-3, math.inf, math.nan, True):
        with pytest.raises(PercgradError) as err:
            tolerance("float64", bad)
        assert err.value.option == "--tolerance"


def test_auto_is_full_up_to_the_limit_then_fast() -> None:
    assert method("auto", FULL_CHECK_MAX_ENTRIES) == "full"
    assert method("auto", FULL_CHECK_MAX_ENTRIES + 1) == "fast"
    assert method(" FAST ", 1) == "fast"
    assert method("off", 10**9) == "off"
    with pytest.raises(PercgradError) as err:
        method("sideways", 1)
    assert err.value.option == "--check"
