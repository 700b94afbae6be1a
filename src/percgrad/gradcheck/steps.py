"""The ladder of steps of a central difference, the plateau where neighbouring steps agree, and
the round-off of one evaluation: what every finite difference of percgrad is read off."""

from __future__ import annotations

import math

import torch
from torch import Tensor

STEPS = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
"""Step sizes ε of the central difference, largest first (gradcheck uses 1e-6)."""
FAST_STEPS = (1e-4, 1e-5, 1e-6, 1e-7)
"""uᵀ∇ along a random unit vector shrinks like ‖∇‖/√N, so the largest step matters here."""
REFERENCE_STEP = 1e-6
"""The step whose round-off a check reports as its resolution."""
NOISE_ULPS = 64.0
"""Round-off of one loss evaluation, in units of float64 epsilon times |E|."""
CHUNK_BYTES = 48 * 2**20
"""Memory budget of one batched pass of perturbed networks."""



SEEN_NOISE = 10.0
"""The round-off a ladder shows is taken as this many times the largest gap of its two smallest
steps (times the step) over all its items, when that is below the modelled round-off."""


def _seen_noise(gaps: Tensor, ladder: Tensor, loss_noise: float) -> float:
    """The round-off of one evaluation as the differences show it: the smallest steps differ by
    at least their round-off over ε, so their largest gap over all items bounds it (with a
    margin); the modelled ``loss_noise`` where that is smaller or nothing was measured. Used only
    to reject a pair (``plateau``), never to trust one."""
    tail = gaps[-2:] * ladder[-2:].view((-1,) + (1,) * (gaps.dim() - 1))
    finite = tail[torch.isfinite(tail)]
    if finite.numel() < 2:
        return loss_noise
    return min(loss_noise, SEEN_NOISE * float(finite.max()))


def plateau(
    estimates: Tensor, crossed: Tensor, steps: tuple[float, ...], loss_noise: float
) -> tuple[Tensor, Tensor, Tensor]:
    """From differences D(ε) at the ladder of ``steps`` (first dimension, largest first), the
    value of the neighbouring pair with the smallest uncertainty (their mean), that uncertainty
    (their gap plus the round-off ``loss_noise``/ε of the smaller step: two small steps can agree
    by chance while both are off), and where no two neighbouring steps were free of a kink (then
    the middle step's raw difference is kept). A pair that some smaller step contradicts (by
    more than the pair's uncertainty and that step's round-off) is never kept: large steps that
    both cross a kink agree with each other on a slope that is not the derivative, while a smooth
    function's smaller steps only come closer to the pair's value."""
    clean = estimates.masked_fill(crossed, float("nan"))
    gaps = torch.nan_to_num((clean[1:] - clean[:-1]).abs(), nan=float("inf"))
    ladder = torch.tensor(steps, dtype=gaps.dtype, device=gaps.device)
    shape = (-1,) + (1,) * (gaps.dim() - 1)
    uncertainty = gaps + loss_noise / ladder[1:].view(shape)
    means = 0.5 * (clean[:-1] + clean[1:])
    seen = _seen_noise(gaps, ladder, loss_noise)
    for p in range(len(steps) - 2):
        below = clean[p + 2:]
        off = (below - means[p]).abs() > uncertainty[p] + seen / ladder[p + 2:].view(shape)
        uncertainty[p] = torch.where(off.any(dim=0), math.inf, uncertainty[p])
    best = uncertainty.argmin(dim=0, keepdim=True)
    value = means.gather(0, best).squeeze(0)
    spread = uncertainty.gather(0, best).squeeze(0)
    kinked = torch.isinf(spread) & crossed.any(dim=0)
    raw = estimates[estimates.shape[0] // 2]
    return torch.where(kinked, raw, value), spread, kinked


def too_steep(slope: Tensor, steps: tuple[float, ...], loss: float) -> Tensor:
    """Where a slope is so steep that even the smallest step would move E by more than a tenth
    of max(E, 1): the loss cannot be linear on that scale, so no finite difference can follow
    it (shattered, exploding nets). The 1 keeps a loss near its minimum, where E is tiny but
    smooth, from counting as steep."""
    return slope.abs() * min(steps) > 0.1 * max(abs(loss), 1.0)
