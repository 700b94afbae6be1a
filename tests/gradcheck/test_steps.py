"""The ladder of steps of a central difference (gradcheck/steps.py): the plateau where
neighbouring steps agree, and what round-off makes of it."""

from __future__ import annotations

import pytest
import torch

from percgrad.gradcheck.steps import plateau


def test_the_step_ladder_reads_the_plateau() -> None:
    steps = (1e-4, 1e-5, 1e-6)
    # neighbours 1e-5 and 1e-6 agree; 1e-4 is off (truncation)
    est = torch.tensor([[1.3], [1.0000001], [1.0]], dtype=torch.float64)
    value, spread, kinked = plateau(est, torch.zeros_like(est, dtype=torch.bool), steps, 0.0)
    assert float(value) == pytest.approx(1.00000005)
    assert float(spread) == pytest.approx(1e-7, rel=1e-6)
    assert not bool(kinked)
    # a large round-off makes the small steps' agreement worthless
    value, _, _ = plateau(est, torch.zeros_like(est, dtype=torch.bool), steps, 1e-6)
    assert float(value) != pytest.approx(1.00000005, rel=1e-9)
