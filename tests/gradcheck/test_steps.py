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


def test_two_large_steps_across_a_kink_do_not_make_a_plateau() -> None:
    # the ladder of f.0.weight[5,0] of a ReLU net with a 1e-4 head: 1e-4 and 1e-5 both cross a
    # kink and agree (to 3.7e-7) on a slope that is not the derivative; 1e-6 … 1e-8 agree on it
    steps = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
    est = torch.tensor([[-4.8436156197e-05], [-4.8069848102e-05], [-4.75013361977e-05],
                        [-4.74775774237e-05], [-4.7517545479e-05]], dtype=torch.float64)
    crossed = torch.zeros_like(est, dtype=torch.bool)
    value, _, _ = plateau(est, crossed, steps, 4e-13)
    assert abs(float(value) - -4.8253e-05) > 2e-7  # not the mean of the two large steps
    # a smooth ladder (truncation shrinking 100× a step, round-off below) is read as before
    smooth = torch.tensor([[1.0 + 1e-8], [1.0 + 1e-10], [1.0 + 1e-12 + 3e-13], [1.0 - 2e-12],
                           [1.0 + 5e-12]], dtype=torch.float64)
    value, spread, _ = plateau(smooth, crossed, steps, 1e-20)
    assert float(value) == pytest.approx(1.0, abs=1e-9)
    assert float(spread) < 1e-7
