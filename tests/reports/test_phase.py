"""``phase`` as plain data (reports/phase.py): when the predicted and measured critical lines
agree."""

from __future__ import annotations


def test_agreement_of_the_lines() -> None:
    from percgrad.reports.phase import CriticalPoint

    assert CriticalPoint(0.1, 2.0, 2.2, 0.25).agrees is True
    assert CriticalPoint(0.1, 2.0, 2.3, 0.25).agrees is False
    assert CriticalPoint(0.1, 2.0, None, 0.25).agrees is False  # predicted inside, no crossing
    assert CriticalPoint(0.1, 9.0, 2.3, None).agrees is False  # crossing, predicted outside
    assert CriticalPoint(0.1, 9.0, None, None).agrees is None
