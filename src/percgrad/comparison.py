"""Comparing gradients: relative errors, the worst entry, and what finite differences can judge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from percgrad.backprop import Gradients
from percgrad.numeric import NumericGradients, too_steep
from percgrad.report import Comparison

Pair = tuple[Tensor, Tensor, Tensor | None, bool]
"""(analytic, reference, entries to leave out or None, is a bias)."""


def frobenius(t: Tensor) -> float:
    """‖t‖_F in float64, scaled by max|t| first so that entries near 1e-170 do not square to 0."""
    t = t.detach().to(torch.float64)
    peak = t.abs().max() if t.numel() else torch.zeros((), dtype=torch.float64)
    if not bool(torch.isfinite(peak)) or float(peak) == 0.0:
        return float(peak) if t.numel() else 0.0
    return float(peak * torch.linalg.vector_norm(t / peak))


def entry_name(layer: int, index: tuple[int, ...], bias: bool) -> str:
    prefix = "b" if bias else "W"
    return f"{prefix}{layer + 1}[{','.join(str(i) for i in index)}]"


def compare(
    layer: int,
    pairs: list[Pair],
    floor: float,
) -> Comparison:
    """max |a−b| and max|a−b| / max(max|a|, max|b|, floor) over W (and b); the worst entry."""
    best = Comparison(0.0, 0.0)
    skipped = 0
    for a, b, mask, is_bias in pairs:
        a64, b64 = a.detach().to(torch.float64), b.detach().to(b.device, torch.float64)
        diff = (a64 - b64.to(a64.device)).abs()
        if mask is not None:
            m = mask.to(diff.device)
            skipped += int(m.sum())
            diff = diff.masked_fill(m, 0.0)
            a64, b64 = a64.masked_fill(m, 0.0), b64.to(a64.device).masked_fill(m, 0.0)
        if diff.numel() == 0:
            continue
        flat = int(torch.nan_to_num(diff, nan=float("inf")).argmax())
        max_abs = float(diff.flatten()[flat])
        scale = max(float(a64.abs().max()), float(b64.abs().max()), floor)
        rel = max_abs / scale
        if best.worst is None or not rel <= best.rel_error:
            index = tuple(int(i) for i in np.unravel_index(flat, tuple(diff.shape)))
            best = Comparison(
                max(max_abs, best.max_abs_diff),
                rel,
                entry_name(layer, index, is_bias),
                (float(a64.flatten()[flat]), float(b64.flatten()[flat])),
            )
        else:
            best.max_abs_diff = max(best.max_abs_diff, max_abs)
    best.skipped = skipped
    return best


def masked(a: Tensor, n: Tensor, spread: Tensor, kinks: Tensor, tol: float,
            floor: float, num: NumericGradients) -> tuple[Tensor, int]:
    """Entries to leave out: kinks, and differences that cannot be trusted (their step ladder
    never settled to within the tolerance, or the slope is too steep for any step); and how
    many of the latter."""
    scale = max(float(a.abs().max()), float(n.abs().max()), floor)
    unsettled = ((spread > tol * scale) | too_steep(a.to(spread.device), num)) & ~kinks
    return kinks | unsettled.to(kinks.device), int(unsettled.sum())


@dataclass
class NumericSide:
    """Layer k against the full finite differences."""

    comparison: Comparison
    kinks: int
    unsettled: int
    weights: Tensor
    biases: Tensor | None
    excluded: Tensor
    """Weight entries left out (kinks and unsettled differences)."""
    bias_excluded: Tensor | None


def versus_numeric(
    num: NumericGradients, grads: Gradients, k: int, tol: float, floor: float
) -> NumericSide:
    """Layer k's gradient against the full finite differences, kinks and unsettled
    differences left out."""
    assert num.weights is not None and num.biases is not None
    assert num.weight_kinks is not None and num.bias_kinks is not None
    assert num.weight_spread is not None and num.bias_spread is not None
    g_an, gb_an = grads.weights[k], grads.biases[k]
    g_num, gb_num = num.weights[k], num.biases[k]
    mask, unsettled = masked(g_an.double(), g_num, num.weight_spread[k], num.weight_kinks[k],
                              tol, floor, num)
    pairs: list[Pair] = [(g_an, g_num, mask, False)]
    kinks = int(num.weight_kinks[k].sum())
    spread_b, kinks_b = num.bias_spread[k], num.bias_kinks[k]
    mask_b = None
    if gb_an is not None and gb_num is not None and spread_b is not None and kinks_b is not None:
        mask_b, unsettled_b = masked(gb_an.double(), gb_num, spread_b, kinks_b, tol, floor, num)
        pairs.append((gb_an, gb_num, mask_b, True))
        kinks += int(kinks_b.sum())
        unsettled += unsettled_b
    return NumericSide(compare(k, pairs, floor), kinks, unsettled, g_num, gb_num, mask, mask_b)


def rounding_note(num: NumericGradients, analytic64: Gradients | None, k: int, tol: float,
                  floor: float, dtype: str) -> str:
    """When the float64 analytic gradient does match: the gap is the dtype's round-off."""
    if analytic64 is None:
        return ""
    cmp64 = versus_numeric(num, analytic64, k, tol, floor).comparison
    if not cmp64.rel_error <= tol:
        return ""
    return (
        f". The same formula in float64 matches to {cmp64.rel_error:.1e}: the gap is {dtype} "
        "round-off amplified by this network, not the derivation (try --dtype float64)"
    )


def fast_verdict(
    num: NumericGradients, tol: float, floor: float, dtype: str
) -> tuple[list[dict[str, float | bool]], float, list[str], int, int]:
    """Each random direction: uᵀ∇ numeric against analytic (and float64 analytic)."""
    assert num.projections is not None and num.direction_kinks is not None
    assert num.direction_spread is not None
    directions: list[dict[str, float | bool]] = []
    failures: list[str] = []
    worst = 0.0
    kinks = unsettled = 0
    for d in range(num.projections.shape[0]):
        row = [float(v) for v in num.projections[d]]
        n_val, a_val, g_val = row[0], row[1], row[2]
        scale = max(abs(a_val), abs(n_val), floor)
        rel = abs(a_val - n_val) / scale
        kinked = bool(num.direction_kinks[d])
        steep = bool(too_steep(torch.tensor(max(abs(a_val), abs(g_val))), num))
        rough = not kinked and (steep or not float(num.direction_spread[d]) <= tol * scale)
        directions.append({
            "numeric": n_val, "analytic": a_val, "autograd": g_val, "rel_error": rel,
            "kink": kinked, "unsettled": rough,
        })
        if kinked or rough:
            kinks += kinked
            unsettled += rough
            continue
        worst = max(worst, rel)
        if not rel <= tol:
            note = ""
            if len(row) > 3 and abs(row[3] - n_val) / max(abs(row[3]), abs(n_val), floor) <= tol:
                note = (f". In float64 the same formula gives {row[3]:.6g}, which matches: the gap "
                        f"is {dtype} round-off amplified by this network (try --dtype float64)")
            failures.append(
                f"random direction u{d + 1}: uᵀ∇ analytic {a_val:.6g} vs numeric "
                f"{n_val:.6g} (relative error {rel:.2e} > tolerance {tol:.0e}){note}"
            )
    return directions, worst, failures, kinks, unsettled


