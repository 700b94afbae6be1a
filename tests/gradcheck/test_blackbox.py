"""Central differences through a black box of a flat vector θ (gradcheck/blackbox.py): every
entry or random directions, the step kept, and a function that is not deterministic."""

from __future__ import annotations

import pytest
import torch

from percgrad.gradcheck.blackbox import FunctionObjective, direction_differences, entry_differences


def _cubes(theta: torch.Tensor) -> torch.Tensor:
    return (theta**3).sum(dim=-1, keepdim=True)


def test_entry_and_direction_differences_are_the_derivative() -> None:
    theta = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    obj = FunctionObjective(_cubes, theta)
    assert obj.deterministic and obj.outputs == 1
    assert float(obj.loss[0]) == pytest.approx(0.125 - 1.0 + 8.0)
    allowed = torch.full((3, 1), 1e-6, dtype=torch.float64)
    diffs = entry_differences(obj, allowed)
    torch.testing.assert_close(diffs.value[:, 0], 3 * theta**2, rtol=1e-7, atol=1e-9)
    assert not bool(diffs.kinks.any())
    assert all(diffs.chosen(i) is not None for i in range(3))
    units = torch.eye(3, dtype=torch.float64)[:2]
    along = direction_differences(obj, units, torch.full((2, 1), 1e-6, dtype=torch.float64))
    torch.testing.assert_close(along.value[:, 0], 3 * theta[:2] ** 2, rtol=1e-7, atol=1e-9)


def test_a_kink_is_found_and_randomness_is_told() -> None:
    theta = torch.tensor([0.0, 1.0], dtype=torch.float64)
    kinked = entry_differences(FunctionObjective(lambda t: t.abs().sum(dim=-1, keepdim=True), theta),
                               torch.full((2, 1), 1e-6, dtype=torch.float64))
    assert kinked.kinks[:, 0].tolist() == [True, False]
    assert kinked.chosen(0) is None
    gen = torch.Generator().manual_seed(0)
    noisy = FunctionObjective(lambda t: t.sum(dim=-1, keepdim=True) * torch.rand((), generator=gen,
                                                                                  dtype=torch.float64),
                              theta, vectorize=False)
    assert noisy.deterministic is False
