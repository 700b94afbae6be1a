"""Judging a black box's gradient (gradcheck/function.py): Gaussian unit directions and the
worst-entry rule."""

from __future__ import annotations

import pytest
import torch

from percgrad.gradcheck.function import unit_directions, worst_entry


def test_gaussian_directions_see_a_structured_error():
    """A constant added to every entry hides from some sign vectors, never from Gaussian ones."""
    dirs = unit_directions([(4,)], seed=0, device=torch.device("cpu"))
    u = dirs[0].dense(torch.Size([4]))
    assert float(u.norm()) == pytest.approx(1.0)
    assert abs(float(u.sum())) > 1e-3


def test_worst_entry_rule_matches_comparison():
    a = torch.tensor([1.0, 2.0, 3.0])
    n = torch.tensor([1.0, 2.5, 3.0])
    max_abs, rel, flat = worst_entry(a, n, None, 1e-12)
    assert (max_abs, flat) == (0.5, 1)
    assert rel == pytest.approx(0.5 / 3.0)
