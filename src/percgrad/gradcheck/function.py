"""Judging a gradient against central differences of a black box: every entry (full) or random
directions (fast), each difference trusted or not from the differences alone, the worst entry
with the ladder that settled it, and the verdict over every (output, input) pair."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from percgrad.gradcheck.blackbox import (
    BlackBoxDifferences,
    FunctionObjective,
    direction_differences,
    entry_differences,
)
from percgrad.gradcheck.compare import frobenius
from percgrad.gradcheck.network import project
from percgrad.gradcheck.steps import FAST_STEPS, STEPS, too_steep
from percgrad.network.layers import Direction
from percgrad.reports.user import Entry, GradCheck, GroupCheck, Step
from percgrad.runtime.progress import Progress
from percgrad.spec.seeds import stream_seed

COTANGENT_SALT = 1000
"""Offsets the seed of the random cotangents v, so that they differ from the inputs' draws."""
DIRECTIONS = 1
"""Random directions per tensor in the fast check (as gradcheck's fast mode: one Gaussian
direction already reveals any mismatch, with probability 1)."""


def entry_label(name: str, index: tuple[int, ...]) -> str:
    """``x[2,3]`` (0-based), ``x`` for a scalar."""
    return f"{name}[{','.join(str(i) for i in index)}]" if index else name


def worst_entry(a: Tensor, n: Tensor, mask: Tensor | None,
                floor: float) -> tuple[float, float, int]:
    """max|a−n|, the relative error max|a−n| / max(max|a|, max|n|, floor) (the rule of
    gradcheck.compare.compare) with ``mask``ed entries left out, and the flat index of the worst. A
    non-finite value makes the error infinite (never NaN, never hidden by a NaN scale)."""
    a64, n64 = a.detach().to(torch.float64).flatten(), n.detach().to(torch.float64).flatten()
    if mask is not None:
        m = mask.flatten().to(a64.device)
        a64, n64 = a64.masked_fill(m, 0.0), n64.masked_fill(m, 0.0)
    if a64.numel() == 0:
        return 0.0, 0.0, 0
    diff = torch.nan_to_num((a64 - n64).abs(), nan=math.inf, posinf=math.inf)
    flat = int(diff.argmax())
    max_abs = float(diff[flat])
    scale = max(_finite_peak(a64), _finite_peak(n64), floor)
    return max_abs, max_abs / scale, flat


def _finite_peak(t: Tensor) -> float:
    """max|t| over the finite entries (0 when there are none)."""
    finite = t[torch.isfinite(t)]
    return float(finite.abs().max()) if finite.numel() else 0.0


ENVELOPE_WIDTHS = 10.0
"""An unsettled difference still bounds the derivative: a value this many times the spread of
its ladder away from every step's difference cannot be its derivative."""


def plausible(a: Tensor, diffs: BlackBoxDifferences, rows: slice, k: int, tol: float,
              scale: float) -> Tensor:
    """Where the analytic values ``a`` could be the derivative, judged from the differences alone:
    at a kink, between the one-sided slopes D ± s/2 of some step tried; where the ladder never
    settled, within ENVELOPE_WIDTHS of its range; in both, give or take the round-off of the
    smallest step tried and the tolerance. Never where ``a`` is not finite. Items without one
    finite difference bound nothing (any finite value is plausible there)."""
    est = diffs.estimates[:, rows, k]
    kinks = diffs.kinks[rows, k]
    half = torch.where(kinks[None], 0.5 * diffs.seconds[:, rows, k], torch.zeros_like(est))
    low, high = est - half, est + half
    finite = torch.isfinite(low) & torch.isfinite(high)
    lo = torch.where(finite, low, math.inf).amin(dim=0)
    hi = torch.where(finite, high, -math.inf).amax(dim=0)
    eps = torch.tensor(diffs.steps, dtype=torch.float64, device=est.device)[:, None]
    smallest = torch.where(torch.isnan(est), math.inf, eps).amin(dim=0)
    width = torch.where(kinks, torch.zeros_like(lo), ENVELOPE_WIDTHS * (hi - lo))
    pad = width + float(diffs.noise[k]) / smallest + tol * scale
    bounded = finite.any(dim=0)
    inside = (a >= lo - pad) & (a <= hi + pad)
    return torch.isfinite(a) & (inside | ~bounded)


def _ladder(diffs: BlackBoxDifferences, item: int,
            output: int) -> tuple[list[Step], int | None, bool]:
    """The steps tried for one item and the pair that settled it (indices into the list)."""
    column = diffs.estimates[:, item, output].tolist()
    tried = [(i, eps, value) for i, (eps, value) in enumerate(zip(diffs.steps, column))
             if not math.isnan(value)]
    chosen = diffs.chosen(item, output)
    position = next((j for j, (i, _, _) in enumerate(tried) if i == chosen), None)
    return [Step(eps, value) for _, eps, value in tried], position, bool(diffs.agreed[item, output])


def judge_entries(name: str, shape: tuple[int, ...], output: int | None, analytic: Tensor,
                  diffs: BlackBoxDifferences, offset: int, tol: float) -> GroupCheck:
    """One tensor's analytic gradient against its entries' differences (rows ``offset`` on).

    Whether a difference can be trusted is decided from the differences alone (its ladder's
    spread against the tolerance times the differences' own scale, and whether its slope is too
    steep for any step), never from the value under test. An entry is left out only where its
    difference cannot be trusted (or sits at a kink) and the analytic value is still plausible
    there; a non-finite or implausible analytic value is judged, and fails."""
    k = output or 0
    count = analytic.numel()
    rows = slice(offset, offset + count)
    a = analytic.detach().to(torch.float64).reshape(-1).to(diffs.value.device)
    n, spread, kinks = diffs.value[rows, k], diffs.spread[rows, k], diffs.kinks[rows, k]
    floor = float(diffs.resolution[k]) / tol
    scale = max(_finite_peak(n.masked_fill(kinks, 0.0)), floor)
    steep = too_steep(torch.nan_to_num(n), diffs.steps, float(diffs.loss[k]))
    untrusted = (~torch.isfinite(n) | (spread > tol * scale) | steep) & ~kinks
    fine = plausible(a, diffs, rows, k, tol, scale)
    mask = (kinks | untrusted) & fine
    judged = count - int(mask.sum())
    max_abs, rel, flat = worst_entry(a, n, mask, floor)
    worst = None
    if count and judged:
        index = tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
        ladder, settled, agreed = _ladder(diffs, offset + flat, k)
        worst = Entry(entry_label(name, index), index, float(a[flat]), float(n[flat]), rel, ladder,
                      settled, agreed)
    return GroupCheck(
        name, shape, output, rel if judged else None, max_abs if judged else None, frobenius(a),
        frobenius(n.masked_fill(mask | ~torch.isfinite(n), 0.0)), worst, int((kinks & fine).sum()),
        int((untrusted & fine).sum()), judged, passed=(rel <= tol) if judged else None,
    )


def judge_directions(name: str, shape: tuple[int, ...], output: int | None, analytic: Tensor,
                     diffs: BlackBoxDifferences, offset: int, tol: float) -> GroupCheck:
    """uᵀ∇ analytic against the difference along u, for the directions in rows ``offset`` on,
    by the rule of ``judge_entries``: trust from the differences alone, and a non-finite or
    implausible analytic value fails."""
    k = output or 0
    count = analytic.numel()
    rows = slice(offset, offset + count)
    a_t = analytic.detach().to(torch.float64).reshape(-1).to(diffs.value.device)
    n_t, spread_t, kinks_t = diffs.value[rows, k], diffs.spread[rows, k], diffs.kinks[rows, k]
    floor = float(diffs.resolution[k]) / tol
    steep_t = too_steep(torch.nan_to_num(n_t), diffs.steps, float(diffs.loss[k]))
    a, n = a_t.cpu().tolist(), n_t.cpu().tolist()
    best: tuple[float, int] | None = None
    kinked = unsettled = 0
    worst_abs = 0.0
    for d in range(count):
        scale = max(abs(n[d]) if math.isfinite(n[d]) else 0.0, floor)
        trusted = math.isfinite(n[d]) and float(spread_t[d]) <= tol * scale and not bool(steep_t[d])
        left_out = bool(kinks_t[d]) or not trusted
        if left_out and bool(plausible(a_t[d:d + 1], diffs, slice(offset + d, offset + d + 1), k, tol,
                                       scale)[0]):
            kinked += bool(kinks_t[d])
            unsettled += not bool(kinks_t[d])
            continue
        gap = abs(a[d] - n[d])
        gap = gap if gap == gap else math.inf
        rel = gap / max(abs(a[d]) if math.isfinite(a[d]) else 0.0, scale)
        worst_abs = max(worst_abs, gap)
        if best is None or rel > best[0]:
            best = (rel, d)
    judged = count - kinked - unsettled
    worst = None
    if best is not None:
        rel, d = best
        ladder, settled, agreed = _ladder(diffs, offset + d, k)
        worst = Entry(f"u{d + 1}", (d,), a[d], n[d], rel, ladder, settled, agreed)
    return GroupCheck(  # analytic_norm: |uᵀ∇| here; the caller puts ‖∇‖ in its place
        name, shape, output, None if best is None else best[0], worst_abs if judged else None,
        math.sqrt(sum(v * v for v in a)), None, worst, kinked, unsettled, judged,
        passed=None if best is None else best[0] <= tol,
    )


def verdict(groups: list[GroupCheck]) -> tuple[bool | None, float | None]:
    """Passed when every judged group passed (None when none was judged), and the worst error."""
    judged = [g for g in groups if g.passed is not None]
    if not judged:
        return None, None
    errors = [g.rel_error for g in judged if g.rel_error is not None]
    worst = max(errors, key=lambda e: e if e == e else math.inf) if errors else None
    return all(g.passed for g in judged), worst


def unit_directions(shapes: Sequence[tuple[int, ...]], seed: int,
                    device: torch.device) -> list[Direction]:
    """DIRECTIONS random unit vectors per tensor, rank one (c·r sᵀ, as gradcheck.network.directions
    shapes them, so that ``project`` applies) but with Gaussian r and s: random signs can
    cancel a structured error (a constant added to every entry of a 4-vector hides from a sign
    vector 3 times in 8), Gaussian vectors miss no error but with probability 0."""
    gen = torch.Generator(device="cpu").manual_seed(stream_seed(seed, 7919))
    out = []
    for shape in shapes:
        rows = shape[0] if len(shape) >= 2 else max(1, math.prod(shape))
        r = torch.randn(DIRECTIONS, rows, generator=gen, dtype=torch.float64)
        if len(shape) >= 2:
            s = torch.randn(DIRECTIONS, math.prod(shape[1:]), generator=gen, dtype=torch.float64)
            r = r / (r.norm(dim=1) * s.norm(dim=1))[:, None]  # c·r sᵀ, c = 1: the norm is in r
            out.append(Direction(r.to(device), s.to(device), 1.0))
        else:
            out.append(Direction((r / r.norm(dim=1, keepdim=True)).to(device), None, 1.0))
    return out


@dataclass
class Objective:
    """A checked objective: the flat float64 vector, its groups, the function of a row, and
    the analytic gradients of each output with respect to each group."""

    theta: Tensor
    names: list[str]
    shapes: list[tuple[int, ...]]
    fn: Callable[[Tensor], Tensor]
    analytic: list[list[Tensor]]
    """[output][group]."""
    magnitude: Tensor
    analytic64: list[list[Tensor]] | None = None
    row_bytes: int = 0
    loop_fn: Callable[[Tensor], Tensor] | None = None
    """The same function for the plain loop (see FunctionObjective)."""
    value: Tensor | None = None
    """f(θ) from an evaluation made already (the analytic pass in float64), if any."""
    vectorize: bool = True
    """False: the plain loop only, never torch.func.vmap (a model whose parameters are shared
    between modules: torch.func.functional_call under vmap leaves them batched)."""


def run_objective(obj_spec: Objective, method: str, tol: float, seed: int,
                  progress: Progress | None = None,
                  output_names: Sequence[int | None] | None = None,
                  ) -> tuple[GradCheck, BlackBoxDifferences | None]:
    """Differences of ``obj_spec`` (full: every entry; fast: random directions per group) and
    the comparison of every (output, group) pair; not applicable when the objective is not
    deterministic or not finite."""
    theta = obj_spec.theta
    counts = [math.prod(s) for s in obj_spec.shapes]
    if theta.numel() == 0:
        return GradCheck(method, tol, None, None, reason="empty",
                         detail="the tensors checked have no entries"), None
    obj = FunctionObjective(obj_spec.fn, theta, obj_spec.magnitude, obj_spec.row_bytes,
                            vectorize=obj_spec.vectorize, loop_fn=obj_spec.loop_fn,
                            value=obj_spec.value)
    k_out = obj.outputs
    outs = list(output_names) if output_names is not None else \
        ([None] if k_out == 1 else list(range(k_out)))
    steps = list(STEPS if method == "full" else FAST_STEPS)
    base = GradCheck(method, tol, None, None, evaluation=obj.mode, steps=steps)
    if k_out == 0:
        base.reason, base.detail = "empty", "the output has no entries"
        return base, None
    if not obj.deterministic:
        first, again = obj.repeat
        base.reason = "nondeterministic"
        base.detail = f"{float(first[0]):.17g} then {float(again[0]):.17g}"
        return base, None
    if not bool(torch.isfinite(obj.base).all()):
        base.reason = "nonfinite"
        base.detail = f"{float(obj.base[0])}"
        return base, None
    resolution = obj.noise() / 1e-6
    floors = resolution / tol
    groups: list[GroupCheck] = []
    if method == "full":
        allowed = torch.empty((theta.numel(), k_out), dtype=torch.float64, device=theta.device)
        expected = torch.empty_like(allowed)
        start = 0
        for g, count in enumerate(counts):
            for k in range(k_out):
                a = obj_spec.analytic[k][g]
                peak = float(a.abs().max()) if a.numel() else 0.0
                allowed[start:start + count, k] = tol * max(peak if math.isfinite(peak) else 0.0,
                                                            float(floors[k]))
                expected[start:start + count, k] = a.reshape(-1).to(expected)
            start += count
        diffs = entry_differences(obj, allowed, STEPS, expected, progress)
        start = 0
        for g, count in enumerate(counts):
            for k in range(k_out):
                groups.append(judge_entries(obj_spec.names[g], obj_spec.shapes[g], outs[k],
                                            obj_spec.analytic[k][g], diffs, start, tol))
            start += count
    else:
        dirs = unit_directions(obj_spec.shapes, seed, theta.device)
        units: list[tuple[int, Tensor]] = []  # each direction by its support: O(parameters) memory
        start = 0
        for g, (d, count) in enumerate(zip(dirs, counts)):
            dense = d.dense(torch.Size(obj_spec.shapes[g])).reshape(DIRECTIONS, -1)
            units += [(start, dense[j]) for j in range(DIRECTIONS)]
            start += count
        proj = [[project([d], [obj_spec.analytic[k][g].reshape(-1) if d.s is None
                               else obj_spec.analytic[k][g]])
                 for g, d in enumerate(dirs)] for k in range(k_out)]
        expected = torch.stack([torch.cat(per_group) for per_group in proj], dim=1).to(theta)
        allowed = tol * torch.maximum(torch.nan_to_num(expected.abs(), nan=0.0, posinf=0.0),
                                      floors.to(theta)[None, :])
        diffs = direction_differences(obj, units, allowed, FAST_STEPS, expected, progress)
        for g in range(len(counts)):
            for k in range(k_out):
                group = judge_directions(obj_spec.names[g], obj_spec.shapes[g], outs[k],
                                         proj[k][g], diffs, g * DIRECTIONS, tol)
                group.analytic_norm = frobenius(obj_spec.analytic[k][g])
                groups.append(group)
    if obj_spec.analytic64 is not None:
        _float64_matches(groups, obj_spec, diffs, tol, method, seed)
    passed, worst = verdict(groups)
    if passed is not None and all(g.analytic_norm == 0 for g in groups) and \
            not bool(diffs.value.any()):
        passed, base.reason = None, "vacuous"
        base.detail = "no value checked moves the output at this point"
    base.passed, base.max_rel_error, base.groups = passed, worst, groups
    base.kinks = sum(g.kinks for g in groups)
    base.unsettled = sum(g.unsettled for g in groups)
    base.evaluation = "vmap" if diffs.stacked else "loop"
    base.evaluations, base.stacked = diffs.rows, diffs.stacked
    base.vectorises = True if diffs.stacked else (False if diffs.mode == "loop" else None)
    base.resolution = float(resolution.max())
    return base, diffs


def _float64_matches(groups: list[GroupCheck], obj_spec: Objective, diffs: BlackBoxDifferences,
                     tol: float, method: str, seed: int) -> None:
    """For each failed group, the float64 analytic gradient's error, kept when it matches."""
    assert obj_spec.analytic64 is not None
    counts = [max(1, math.prod(s)) for s in obj_spec.shapes]
    k_out = len(obj_spec.analytic64)
    dirs = unit_directions(obj_spec.shapes, seed, obj_spec.theta.device) if method == "fast" else []
    start = 0
    i = 0
    for g, count in enumerate(counts):
        for k in range(k_out):
            group = groups[i]
            i += 1
            if group.passed is not False:
                continue
            a64 = obj_spec.analytic64[k][g]
            if method == "full":
                again = judge_entries(group.name, group.shape, group.output, a64, diffs, start, tol)
            else:
                proj = project([dirs[g]], [a64.reshape(-1) if dirs[g].s is None else a64])
                again = judge_directions(group.name, group.shape, group.output, proj, diffs,
                                         g * DIRECTIONS, tol)
            if again.passed:
                group.float64_rel_error = again.rel_error
        start += count
