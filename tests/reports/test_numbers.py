"""Numbers as text (reports/numbers.py), the same in tables, sentences and worked arithmetic."""

from __future__ import annotations

import math

import pytest

from percgrad.reports.numbers import figure, num, short, sig, sub


@pytest.mark.parametrize(("value", "text"), [
    (None, "—"), (0.0, "0"), (math.nan, "nan"), (math.inf, "∞"), (-math.inf, "−∞"),
    (0.123456, "0.1235"), (-1234.5678, "-1235"), (1e-4, "1.00e-04"), (123456.0, "1.23e+05"),
])
def test_num_gives_four_significant_digits_or_e_notation(value: float | None, text: str) -> None:
    assert num(value) == text


def test_formula_numbers() -> None:
    assert sub(12) == "₁₂"
    assert short(0.0141835) == "0.0142"
    assert sig(2.0 / 3.0, 3) == "0.667" and sig(1e-7, 3) == "1.00e-07"
    assert figure(-0.01418) == "(-0.01418)" and figure(1.541) == "1.541"
