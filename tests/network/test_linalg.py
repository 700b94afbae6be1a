"""Spectral norms of weight matrices and what they cost (network/linalg.py)."""

from __future__ import annotations

import pytest
import torch

from percgrad.network.linalg import SVD_FLOPS_PER_S, spectral_norms, svd_seconds


def test_spectral_norms_are_the_largest_singular_values() -> None:
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(5, 3, generator=gen), torch.diag(torch.tensor([3.0, -7.0, 1.0]))]
    seen: list[tuple[int, int]] = []
    norms = spectral_norms(weights, progress=lambda d, t: seen.append((d, t)))
    assert norms[0] == pytest.approx(float(torch.linalg.matrix_norm(weights[0].double(), ord=2)))
    assert norms[1] == pytest.approx(7.0)
    assert seen == [(1, 2), (2, 2)]
    threads = torch.get_num_threads()
    spectral_norms(weights)
    assert torch.get_num_threads() == threads  # one thread during the SVDs only


def test_the_cost_grows_as_n_cubed() -> None:
    assert svd_seconds([(100, 100)]) == pytest.approx(100**3 / SVD_FLOPS_PER_S)
    assert svd_seconds([(200, 100), (100, 100)]) == pytest.approx(3 * 100**3 / SVD_FLOPS_PER_S)
