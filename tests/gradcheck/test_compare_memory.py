"""compare() and frobenius() in float64 pieces (gradcheck/compare.py): the same numbers as one
float64 copy of the whole tensor — the worst entry and its values exactly, the norm to round-off
— with temporaries of at most CHUNK_ENTRIES entries (issue 20, item 3: a wide layer's float64
copies made the size guard's estimate 16 % low)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from percgrad.gradcheck import compare as C


def _whole(a: torch.Tensor, b: torch.Tensor, floor: float) -> tuple[float, float, tuple, tuple]:
    """The rule of compare() on one float64 copy of each (as it was written before)."""
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    diff = (a64 - b64).abs()
    flat = int(torch.nan_to_num(diff, nan=float("inf")).argmax())
    max_abs = float(diff.flatten()[flat])
    scale = max(float(a64.abs().max()), float(b64.abs().max()), floor)
    index = tuple(int(i) for i in np.unravel_index(flat, tuple(diff.shape)))
    return max_abs, max_abs / scale, index, (float(a64.flatten()[flat]), float(b64.flatten()[flat]))


def _same(x: float, y: float) -> bool:
    return x == y or (math.isnan(x) and math.isnan(y))


@pytest.mark.parametrize("shape", [(3, 4), (7,), (C.CHUNK_ENTRIES + 5,), (1100, 1000)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("plant", ["none", "nan", "inf", "late-max", "zeros"])
def test_the_pieces_give_the_numbers_of_the_whole(shape: tuple[int, ...], dtype: torch.dtype,
                                                  plant: str) -> None:
    gen = torch.Generator().manual_seed(sum(shape))
    a = torch.randn(shape, generator=gen, dtype=dtype)
    b = a + 1e-4 * torch.randn(shape, generator=gen, dtype=dtype)
    flat_a, flat_b = a.view(-1), b.view(-1)
    if plant == "nan":
        flat_a[-3] = float("nan")
    elif plant == "inf":
        flat_b[1] = float("inf")
        flat_b[-1] = float("inf")
    elif plant == "late-max":
        flat_b[-2] += 10.0  # the worst entry in the last piece
    elif plant == "zeros":
        a.zero_()
        b.zero_()
    got = C.compare(0, [(a, b, None, "W")], 1e-30)
    max_abs, rel, index, values = _whole(a, b, 1e-30)
    assert _same(got.max_abs_diff, max_abs) and _same(got.rel_error, rel)
    assert got.worst == C.entry_name(0, index, "W")
    assert all(_same(x, y) for x, y in zip(got.worst_values or (), values))
    whole = a.to(torch.float64)
    peak = whole.abs().max()
    finite = bool(torch.isfinite(peak)) and float(peak) != 0.0
    expected = float(peak * torch.linalg.vector_norm(whole / peak)) if finite else float(peak)
    norm = C.frobenius(a)
    assert _same(norm, expected) or abs(norm - expected) <= 1e-14 * abs(expected)
    if a.numel() <= C.CHUNK_ENTRIES:
        assert _same(norm, expected)  # one piece: exactly as before
