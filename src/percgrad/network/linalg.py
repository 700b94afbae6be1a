"""Spectral norms of weight matrices, and what they cost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

SVD_FLOPS_PER_S = 3e9
"""A float64 SVD of an n×n matrix on one CPU core costs about n³ / this many seconds."""
AUTO_BUDGET_S = 1.5
"""``auto`` computes the spectral bound when its SVDs should take less than this."""


@contextmanager
def _one_thread() -> Iterator[None]:
    # Threaded LAPACK SVDs of mid-sized matrices can run 100× slower than one thread.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def svd_seconds(shapes: list[tuple[int, int]]) -> float:
    """Rough CPU time of one SVD per shape."""
    return sum(min(s) ** 2 * max(s) for s in shapes) / SVD_FLOPS_PER_S


def spectral_norms(weights: list[Tensor],
                   progress: Callable[[int, int], None] | None = None) -> list[float]:
    """‖W‖₂ (largest singular value) of every matrix, in float64."""
    norms = []
    with _one_thread():
        for i, w in enumerate(weights):
            norms.append(float(torch.linalg.svdvals(w.detach().to(torch.float64))[0]))
            if progress is not None:
                progress(i + 1, len(weights))
    return norms
