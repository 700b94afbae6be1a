"""Comparing gradients: relative errors, the worst entry, and what finite differences can judge."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from percgrad.gradcheck.network import FastProjections, FullGradients
from percgrad.gradcheck.steps import too_steep
from percgrad.network.passes import Gradients
from percgrad.reports.records import Mismatch
from percgrad.reports.run import Comparison

Pair = tuple[Tensor, Tensor, Tensor | None, str]
"""(analytic, reference, entries to leave out or None, the parameter's symbol: W, b, γ, β)."""


CHUNK_ENTRIES = 2**20
"""Entries per float64 temporary when a norm or a comparison walks a large tensor: a layer of a
wide network is hundreds of MB, and a float64 copy of it would add as much again to the peak."""


def _pieces(t: Tensor) -> list[Tensor]:
    """``t`` flattened, in consecutive pieces of at most CHUNK_ENTRIES entries (views)."""
    flat = t.reshape(-1)
    return [flat[i:i + CHUNK_ENTRIES] for i in range(0, flat.numel(), CHUNK_ENTRIES)]


def _abs_max(t: Tensor) -> Tensor:
    """max|t| (NaN if any entry is NaN), piece by piece: exact in t's own dtype."""
    if t.numel() <= CHUNK_ENTRIES:
        return t.abs().max()
    return torch.stack([p.abs().max() for p in _pieces(t)]).max()


def stored_values(t: Tensor) -> Tensor:
    """The entries a tensor stores: itself when dense; a sparse one's values, each index once
    (COO coalesced: duplicate indices summed, as the dense tensor has them)."""
    if t.layout == torch.strided:
        return t
    if t.layout == torch.sparse_coo:
        return t.coalesce().values()
    return t.values()


def frobenius(t: Tensor) -> float:
    """‖t‖_F in float64, scaled by max|t| first so that entries near 1e-170 do not square to 0
    (a sparse tensor's over its stored values: the entries it leaves out are 0)."""
    t = stored_values(t.detach())
    if not t.numel():
        return 0.0
    peak = _abs_max(t).to(torch.float64)
    if not bool(torch.isfinite(peak)) or float(peak) == 0.0:
        return float(peak)
    if t.numel() <= CHUNK_ENTRIES:
        return float(peak * torch.linalg.vector_norm(t.to(torch.float64, copy=True).div_(peak)))
    squares = torch.stack([torch.linalg.vector_norm(p.to(torch.float64, copy=True).div_(peak))
                           for p in _pieces(t)])
    return float(peak * torch.linalg.vector_norm(squares))


def entry_name(layer: int, index: tuple[int, ...], symbol: str) -> str:
    """``W2[3,1]``: the parameter's symbol, the 1-based layer, the 0-based entry."""
    return f"{symbol}{layer + 1}[{','.join(str(i) for i in index)}]"


def compare(
    layer: int,
    pairs: list[Pair],
    floor: float,
) -> Comparison:
    """max |a−b| and max|a−b| / max(max|a|, max|b|, floor) over W (and b); the worst entry."""
    best = Comparison(0.0, 0.0)
    skipped = 0
    for a, b, mask, symbol in pairs:
        if mask is None:
            lean = _lean(a.detach(), b.detach().to(a.device), floor)
            if lean is None:
                continue
            max_abs, rel, flat, values, shape = lean
            if best.worst is None or not rel <= best.rel_error:
                index = tuple(int(i) for i in np.unravel_index(flat, shape))
                best = Comparison(max(max_abs, best.max_abs_diff), rel,
                                  entry_name(layer, index, symbol), values)
            else:
                best.max_abs_diff = max(best.max_abs_diff, max_abs)
            continue
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
                entry_name(layer, index, symbol),
                (float(a64.flatten()[flat]), float(b64.flatten()[flat])),
            )
        else:
            best.max_abs_diff = max(best.max_abs_diff, max_abs)
    best.skipped = skipped
    return best


def _lean(a: Tensor, b: Tensor, floor: float
          ) -> tuple[float, float, int, tuple[float, float], tuple[int, ...]] | None:
    """``compare``'s numbers for one unmasked pair, with float64 temporaries of at most
    CHUNK_ENTRIES entries: max|a−b|, the relative error, the flat index of the worst entry, its
    two values and the shape; None when the pair is empty. The same numbers as converting both
    to float64 first (abs and max are exact in any dtype, the subtraction is carried out in
    float64, and the worst entry is the first of the largest, NaN above ∞, as there)."""
    if a.numel() == 0:
        return None
    best_key = -math.inf
    flat, max_abs = 0, 0.0
    start = 0
    pairs = [(a.reshape(-1), b.reshape(-1))] if a.numel() <= CHUNK_ENTRIES else \
        zip(_pieces(a), _pieces(b))
    for pa, pb in pairs:
        diff = pa.to(torch.float64, copy=True).sub_(pb).abs_()
        key = torch.nan_to_num(diff, nan=math.inf)
        at = int(key.argmax())
        if start == 0 or float(key[at]) > best_key:
            best_key, flat, max_abs = float(key[at]), start + at, float(diff[at])
        start += pa.numel()
    scale = max(float(_abs_max(a)), float(_abs_max(b)), floor)
    values = (float(a.reshape(-1)[flat]), float(b.reshape(-1)[flat]))
    return max_abs, max_abs / scale, flat, values, tuple(a.shape)


def masked(a: Tensor, n: Tensor, spread: Tensor, kinks: Tensor, tol: float,
           floor: float, num: FullGradients) -> tuple[Tensor, int]:
    """Entries to leave out: kinks, and differences that cannot be trusted, judged from the
    differences alone (their step ladder never settled to within the tolerance of their own
    scale, they are not finite, or the slope is too steep for any step); and how many of the
    latter. ``a``, the gradient under test, has no say."""
    finite = torch.isfinite(n)
    clean = n.masked_fill(kinks.to(n.device) | ~finite, 0.0)
    scale = max(float(clean.abs().max()) if n.numel() else 0.0, floor)
    steep = too_steep(torch.nan_to_num(n), num.steps, num.loss).to(spread.device)
    unsettled = ((spread > tol * scale) | steep | ~finite.to(spread.device)) & ~kinks
    return kinks | unsettled.to(kinks.device), int(unsettled.sum())


@dataclass
class NumericSide:
    """Layer k against the full finite differences."""

    comparison: Comparison
    kinks: int
    unsettled: int
    values: list[Tensor]
    """The finite differences of each of the layer's parameters."""
    excluded: list[Tensor]
    """Entries left out (kinks and unsettled differences), per parameter."""


def versus_numeric(
    num: FullGradients, grads: Gradients, k: int, tol: float, floor: float
) -> NumericSide:
    """Layer k's gradients against the full finite differences, kinks and unsettled
    differences left out."""
    pairs: list[Pair] = []
    masks: list[Tensor] = []
    kinks = unsettled = 0
    for g_an, g_num, spread, kk, symbol in zip(grads.params[k], num.params[k], num.spread[k],
                                               num.kinks[k], num.names[k]):
        mask, bad = masked(g_an.double(), g_num, spread, kk, tol, floor, num)
        pairs.append((g_an, g_num, mask, symbol))
        masks.append(mask)
        kinks += int(kk.sum())
        unsettled += bad
    return NumericSide(compare(k, pairs, floor), kinks, unsettled, list(num.params[k]), masks)


def float64_match(num: FullGradients, analytic64: Gradients | None, k: int, tol: float,
                  floor: float) -> float | None:
    """The float64 analytic gradient's relative error against the finite differences, when it
    does match (the gap is then the compute dtype's round-off); None otherwise."""
    if analytic64 is None:
        return None
    cmp64 = versus_numeric(num, analytic64, k, tol, floor).comparison
    return cmp64.rel_error if cmp64.rel_error <= tol else None


def fast_verdict(
    num: FastProjections, tol: float, floor: float, dtype: str
) -> tuple[list[dict[str, float | bool]], float, list[Mismatch], int, int]:
    """Each random direction: uᵀ∇ numeric against analytic (and float64 analytic)."""
    directions: list[dict[str, float | bool]] = []
    failures: list[Mismatch] = []
    worst = 0.0
    kinks = unsettled = 0
    for d in range(num.projections.shape[0]):
        row = [float(v) for v in num.projections[d]]
        n_val, a_val, g_val = row[0], row[1], row[2]
        scale = max(abs(a_val), abs(n_val), floor)
        rel = abs(a_val - n_val) / scale
        kinked = bool(num.kinks[d])
        # whether the difference can be trusted: from the difference alone
        own = max(abs(n_val), floor) if math.isfinite(n_val) else math.inf
        steep = bool(too_steep(torch.tensor(n_val if math.isfinite(n_val) else math.inf), num.steps,
                               num.loss))
        rough = not kinked and (steep or not float(num.spread[d]) <= tol * own)
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
            f64 = None
            if len(row) > 3:
                rel64 = abs(row[3] - n_val) / max(abs(row[3]), abs(n_val), floor)
                f64 = rel64 if rel64 <= tol else None
            failures.append(Mismatch("direction", rel, tol, dtype, analytic=a_val, reference=n_val,
                                     direction=d + 1, float64_rel_error=f64))
    return directions, worst, failures, kinks, unsettled


