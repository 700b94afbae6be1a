"""Directions given by their support (start, values) give the very differences a dense D × N
matrix of unit vectors gives, without holding that matrix (the fast check of a model with many
tensors stays O(parameters) in memory)."""

from __future__ import annotations

import torch

from percgrad.gradcheck.blackbox import FunctionObjective, direction_differences


def test_supports_and_dense_units_give_identical_differences() -> None:
    gen = torch.Generator().manual_seed(3)
    theta = torch.randn(11, generator=gen, dtype=torch.float64)
    obj = FunctionObjective(lambda t: torch.stack([torch.sin(t).sum(), (t[:4] ** 3).sum()]), theta)
    spans = [(0, 4), (4, 9), (9, 11)]
    supports = []
    dense = torch.zeros(len(spans), theta.numel(), dtype=torch.float64)
    for row, (a, b) in enumerate(spans):
        values = torch.randn(b - a, generator=gen, dtype=torch.float64)
        values /= values.norm()
        supports.append((a, values))
        dense[row, a:b] = values
    allowed = torch.full((len(spans), 2), 1e-9, dtype=torch.float64)
    by_support = direction_differences(obj, supports, allowed)
    by_matrix = direction_differences(obj, dense, allowed)
    assert torch.equal(by_support.value, by_matrix.value)
    assert torch.equal(by_support.spread, by_matrix.spread)
    expected = torch.stack([(torch.cos(theta) * dense[r]).sum() for r in range(len(spans))])
    assert torch.allclose(by_support.value[:, 0], expected, atol=1e-8)
