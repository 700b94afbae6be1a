"""``percgrad check``: a readable gradcheck of a function of tensors. Autograd's gradient of
v·f (v a random cotangent per output, so one backward pass judges the whole Jacobian) against
float64 central differences of the same v·f, input by input: the worst entry with both values,
its relative error and the step ladder that settled it; kinks and unsettled differences left
out and counted. The comparisons here serve ``inspect``'s checks too."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from percgrad.engines.user_data import random_tensor
from percgrad.errors import PercgradError
from percgrad.gradcheck.compare import frobenius
from percgrad.gradcheck.network import (
    FAST_STEPS,
    STEPS,
    BlackBoxDifferences,
    FunctionObjective,
    direction_differences,
    entry_differences,
    project,
    too_steep,
)
from percgrad.network.layers import Direction
from percgrad.reports.user import Entry, FunctionCheckReport, GradCheck, GroupCheck, Note, Step
from percgrad.spec.run import FULL_CHECK_MAX_PARAMS
from percgrad.version import __version__

Progress = Callable[[int, int], None]
VALUES_MAX = 4096
"""Entries per input up to which the report keeps every analytic and numeric value (--plot)."""
COTANGENT_SALT = 1000
DIRECTIONS = 1
"""Random directions per tensor in the fast check (as gradcheck's fast mode: one Gaussian
direction already reveals any mismatch, with probability 1)."""


def tolerance_for(dtype: torch.dtype, tolerance: float | None) -> float:
    """The user's tolerance, or the dtype's default (1e-3 float32, 1e-6 float64)."""
    if tolerance is not None:
        if not (math.isfinite(tolerance) and tolerance > 0):
            raise PercgradError(f"must be a positive finite number, got {tolerance!r}", "--tolerance")
        return float(tolerance)
    return 1e-6 if dtype == torch.float64 else 1e-3


def method_for(method: str, entries: int) -> str:
    """``auto`` made concrete: full up to FULL_CHECK_MAX_PARAMS entries, fast beyond."""
    name = str(method).strip().lower()
    if name not in ("auto", "full", "fast", "off"):
        raise PercgradError(f"{method!r} is not one of: auto, full, fast, off", "--check")
    if name == "auto":
        return "full" if entries <= FULL_CHECK_MAX_PARAMS else "fast"
    return name


def entry_label(name: str, index: tuple[int, ...]) -> str:
    """``x[2,3]`` (0-based), ``x`` for a scalar."""
    return f"{name}[{','.join(str(i) for i in index)}]" if index else name


def worst_entry(a: Tensor, n: Tensor, mask: Tensor | None,
                floor: float) -> tuple[float, float, int]:
    """max|a−n|, the relative error max|a−n| / max(max|a|, max|n|, floor) (the rule of
    comparison.compare) with ``mask``ed entries left out, and the flat index of the worst."""
    a64, n64 = a.detach().to(torch.float64).flatten(), n.detach().to(torch.float64).flatten()
    if mask is not None:
        m = mask.flatten().to(a64.device)
        a64, n64 = a64.masked_fill(m, 0.0), n64.masked_fill(m, 0.0)
    if a64.numel() == 0:
        return 0.0, 0.0, 0
    diff = (a64 - n64).abs()
    flat = int(torch.nan_to_num(diff, nan=float("inf")).argmax())
    max_abs = float(diff[flat])
    scale = max(float(a64.abs().max()), float(n64.abs().max()), floor)
    return max_abs, max_abs / scale, flat


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
    """One tensor's analytic gradient against its entries' differences (rows ``offset`` on)."""
    k = output or 0
    count = analytic.numel()
    rows = slice(offset, offset + count)
    a = analytic.detach().to(torch.float64).reshape(-1).to(diffs.value.device)
    n, spread, kinks = diffs.value[rows, k], diffs.spread[rows, k], diffs.kinks[rows, k]
    floor = float(diffs.resolution[k]) / tol
    scale = max(float(a.abs().max()) if count else 0.0,
                float(n.masked_fill(kinks, 0.0).abs().max()) if count else 0.0, floor)
    steep = too_steep(a, diffs.steps, float(diffs.loss[k]))
    unsettled = ((spread > tol * scale) | steep) & ~kinks
    mask = kinks | unsettled
    judged = count - int(mask.sum())
    max_abs, rel, flat = worst_entry(a, n, mask, floor)
    worst = None
    if count and judged:
        index = tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
        ladder, settled, agreed = _ladder(diffs, offset + flat, k)
        worst = Entry(entry_label(name, index), index, float(a[flat]), float(n[flat]),
                      float(abs(a[flat] - n[flat]) / scale), ladder, settled, agreed)
    return GroupCheck(
        name, shape, output, rel if judged else None, max_abs if judged else None, frobenius(a),
        frobenius(n.masked_fill(mask, 0.0)), worst, int(kinks.sum()), int(unsettled.sum()), judged,
        passed=(rel <= tol) if judged else None,
    )


def judge_directions(name: str, shape: tuple[int, ...], output: int | None, analytic: Tensor,
                     diffs: BlackBoxDifferences, offset: int, tol: float) -> GroupCheck:
    """uᵀ∇ analytic against the difference along u, for the directions in rows ``offset`` on
    (a handful of numbers: judged in plain floats)."""
    k = output or 0
    count = analytic.numel()
    rows = slice(offset, offset + count)
    a = analytic.detach().to(torch.float64).cpu().tolist()
    n = diffs.value[rows, k].cpu().tolist()
    spread = diffs.spread[rows, k].cpu().tolist()
    kinks = diffs.kinks[rows, k].cpu().tolist()
    floor = float(diffs.resolution[k]) / tol
    limit = 0.1 * max(abs(float(diffs.loss[k])), 1.0) / min(diffs.steps)  # numeric.too_steep
    best: tuple[float, int] | None = None
    kinked = unsettled = 0
    worst_abs = 0.0
    for d, (ad, nd, sd, kd) in enumerate(zip(a, n, spread, kinks)):
        scale = max(abs(ad), abs(nd), floor)
        if kd:
            kinked += 1
            continue
        if not sd <= tol * scale or abs(ad) > limit:
            unsettled += 1
            continue
        gap = abs(ad - nd)
        rel = gap / scale if gap == gap else math.inf
        worst_abs = max(worst_abs, gap if gap == gap else math.inf)
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
    """DIRECTIONS random unit vectors per tensor, rank one (c·r sᵀ, as numeric.directions
    shapes them, so that ``project`` applies) but with Gaussian r and s: random signs can
    cancel a structured error (a constant added to every entry of a 4-vector hides from a sign
    vector 3 times in 8), Gaussian vectors miss no error but with probability 0."""
    gen = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + 7919)
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


def run_objective(obj_spec: Objective, method: str, tol: float, seed: int,
                  progress: Progress | None = None,
                  output_names: Sequence[int | None] | None = None,
                  ) -> tuple[GradCheck, BlackBoxDifferences | None]:
    """Differences of ``obj_spec`` (full: every entry; fast: random directions per group) and
    the comparison of every (output, group) pair; not applicable when the objective is not
    deterministic or not finite."""
    theta = obj_spec.theta
    counts = [max(1, math.prod(s)) if s else 1 for s in obj_spec.shapes]
    obj = FunctionObjective(obj_spec.fn, theta, obj_spec.magnitude, obj_spec.row_bytes,
                            loop_fn=obj_spec.loop_fn, value=obj_spec.value)
    k_out = obj.outputs
    outs = list(output_names) if output_names is not None else \
        ([None] if k_out == 1 else list(range(k_out)))
    steps = list(STEPS if method == "full" else FAST_STEPS)
    base = GradCheck(method, tol, None, None, evaluation=obj.mode, steps=steps)
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
        units = torch.zeros((len(counts) * DIRECTIONS, theta.numel()), dtype=torch.float64,
                            device=theta.device)
        start = 0
        for g, (d, count) in enumerate(zip(dirs, counts)):
            shape = torch.Size(obj_spec.shapes[g])
            units[g * DIRECTIONS:(g + 1) * DIRECTIONS, start:start + count] = \
                d.dense(shape).reshape(DIRECTIONS, -1)
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


# ------------------------------------------------------------------- the user's function


def _outputs(value: Any) -> list[Tensor]:
    """The floating-point tensors a function returned (a tensor, or a tuple/list/dict of them)."""
    if isinstance(value, Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in _outputs(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _outputs(v)]
    return []


def _shapes_text(inputs: Sequence[Any]) -> str:
    return ", ".join("×".join(map(str, x.shape)) or "scalar" if isinstance(x, Tensor) else
                     type(x).__name__ for x in inputs)


def call_user(fn: Callable[..., Any], args: Sequence[Any], name: str, what: str = "calling") -> Any:
    """``fn(*args)``, any exception from the user's code as a PercgradError naming TARGET."""
    from percgrad.engines.user_code import _first_line, _where

    try:
        return fn(*args)
    except PercgradError:
        raise
    except Exception as exc:
        raise PercgradError(f"{what} {name} on inputs of shape {_shapes_text(args)} raised "
                            f"{_first_line(exc)}{_where(exc)}", "TARGET") from None


def _analytic(fn: Callable[..., Any], inputs: list[Any], float_idx: list[int],
              cotangents: list[Tensor] | None, name: str, seed: int,
              ) -> tuple[list[list[Tensor]], list[Tensor], list[Tensor]]:
    """Autograd's ∂(v_k·f_k)/∂x for every output k and checked input x, the cotangents v_k
    (drawn when not given) and the outputs."""
    outs = _outputs(call_user(fn, inputs, name))
    if not outs:
        raise PercgradError(f"{name} returned no floating-point tensor to differentiate", "TARGET")
    if cotangents is None:
        cotangents = [random_tensor(tuple(o.shape), seed, torch.float64, o.device,
                                    salt=COTANGENT_SALT + k) for k, o in enumerate(outs)]
    leaves = [inputs[i] for i in float_idx]
    grads: list[list[Tensor]] = []
    for k, (o, v) in enumerate(zip(outs, cotangents)):
        if not o.requires_grad:
            grads.append([torch.zeros_like(x, dtype=x.dtype) for x in leaves])
            continue
        e = (v.to(o.dtype) * o).sum()
        try:
            got = torch.autograd.grad(e, leaves, retain_graph=k + 1 < len(outs), allow_unused=True)
        except Exception as exc:
            from percgrad.engines.user_code import _first_line, _where

            raise PercgradError(f"the backward pass of {name} raised {_first_line(exc)}"
                                f"{_where(exc)}", "TARGET") from None
        grads.append([torch.zeros_like(x) if g is None else g.detach() for x, g in zip(leaves, got)])
    return grads, cotangents, outs


def check_function(fn: Callable[..., Any], inputs: Sequence[Any], names: Sequence[str] | None = None,
                   method: str = "auto", tolerance: float | None = None, seed: int = 0,
                   dtype: str = "float64", target: str = "", function: str = "",
                   progress: Progress | None = None) -> FunctionCheckReport:
    """Check ``fn(*inputs)``: autograd in ``dtype`` against float64 central differences, for
    every floating-point input (other arguments are passed as they are)."""
    started = time.perf_counter()
    name = function or getattr(fn, "__name__", "the function")
    if dtype not in ("float32", "float64"):
        raise PercgradError(f"{dtype!r} is not one of: float32, float64", "--dtype")
    compute = torch.float64 if dtype == "float64" else torch.float32
    tol = tolerance_for(compute, tolerance)
    float_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.is_floating_point()]
    if not float_idx:
        raise PercgradError(f"{name} has no floating-point tensor input to check", "--shapes")
    labels = list(names) if names is not None and len(names) == len(inputs) else \
        [f"arg{i}" for i in range(len(inputs))]
    shapes = [tuple(inputs[i].shape) for i in float_idx]
    entries = sum(max(1, math.prod(s)) for s in shapes)
    chosen = method_for(method, entries)

    def leaves(dt: torch.dtype) -> list[Any]:
        return [x.detach().to(dt).requires_grad_(True) if i in float_idx else x
                for i, x in enumerate(inputs)]

    grads, cotangents, first_outputs = _analytic(fn, leaves(compute), float_idx, None, name, seed)
    out_shapes = [tuple(o.shape) for o in first_outputs]
    analytic64 = None
    if compute != torch.float64:
        analytic64 = _analytic(fn, leaves(torch.float64), float_idx, cotangents, name, seed)[0]
    analytic_s = time.perf_counter() - started
    settings = {"method": chosen, "requested": method, "tolerance": tol, "seed": seed,
                "dtype": dtype, "inputs": "given"}
    notes: list[Note] = []
    if chosen == "off":
        check = GradCheck("off", tol, None, None, reason="off")
        return FunctionCheckReport(target, name, list(zip([labels[i] for i in float_idx], shapes)),
                                   out_shapes, settings, check, notes, [],
                                   {"analytic_s": analytic_s, "numeric_s": 0.0}, __version__)
    x64 = [x.detach().to(torch.float64) if i in float_idx else x for i, x in enumerate(inputs)]
    theta = torch.cat([x64[i].reshape(-1) for i in float_idx])
    counts = [max(1, math.prod(s)) for s in shapes]
    starts = np.cumsum([0, *counts]).tolist()
    v64 = [v.to(torch.float64) for v in cotangents]

    flat_v = [v.reshape(-1) for v in v64]

    def objective(row: Tensor) -> Tensor:
        args = list(x64)
        for j, i in enumerate(float_idx):
            args[i] = row[starts[j]:starts[j + 1]].view(shapes[j])
        outs = _outputs(fn(*args))
        if len(flat_v) == 1:
            return torch.vdot(flat_v[0], outs[0].reshape(-1).to(torch.float64))
        return torch.stack([torch.vdot(v, o.reshape(-1).to(torch.float64))
                            for v, o in zip(flat_v, outs)])

    if compute == torch.float64:
        outs64 = [o.detach() for o in first_outputs]
    else:
        with torch.no_grad():
            outs64 = _outputs(call_user(fn, x64, name))
    if len(outs64) != len(v64) or any(tuple(o.shape) != tuple(v.shape) for o, v in zip(outs64, v64)):
        raise PercgradError(f"{name} returns outputs of other shapes in float64 than in {dtype}",
                            "TARGET")
    magnitude = torch.stack([(v * o.to(torch.float64)).abs().sum() for v, o in zip(v64, outs64)])
    value = torch.stack([torch.vdot(v, o.reshape(-1).to(torch.float64)) for v, o in
                         zip(flat_v, outs64)]) if compute == torch.float64 else None
    spec = Objective(theta, [labels[i] for i in float_idx], shapes, objective,
                     [[g.to(torch.float64) for g in gk] for gk in grads], magnitude,
                     None if analytic64 is None else [[g.to(torch.float64) for g in gk]
                                                      for gk in analytic64],
                     row_bytes=8 * 4 * sum(o.numel() for o in outs64), value=value)
    check, diffs = run_objective(spec, chosen, tol, seed, progress)
    numeric_s = time.perf_counter() - started - analytic_s
    values = _values(spec, diffs) if chosen == "full" and diffs is not None else []
    return FunctionCheckReport(
        target, name, list(zip(spec.names, shapes)), out_shapes, settings, check, notes, values,
        {"analytic_s": analytic_s, "numeric_s": numeric_s}, __version__,
    )


def _values(spec: Objective, diffs: BlackBoxDifferences) -> list[dict[str, Any]]:
    """Every small group's analytic and numeric entries (and kinks), per output, for --plot."""
    out = []
    start = 0
    for g, shape in enumerate(spec.shapes):
        count = max(1, math.prod(shape))
        if count <= VALUES_MAX:
            for k, per_group in enumerate(spec.analytic):
                rows = slice(start, start + count)
                out.append({
                    "name": spec.names[g], "output": k if len(spec.analytic) > 1 else None,
                    "analytic": per_group[g].detach().cpu().reshape(-1).tolist(),
                    "numeric": diffs.value[rows, k].cpu().tolist(),
                    "kink": diffs.kinks[rows, k].cpu().tolist(),
                })
        start += count
    return out


def check_target(fn: Any, inputs: list[Any], shapes: str | Sequence[Sequence[int]] | None = None,
                 method: str = "auto", tolerance: float | None = None, seed: int = 0,
                 dtype: str = "float64", progress: Progress | None = None) -> FunctionCheckReport:
    """``check`` from what the user gives: a TARGET string or a function, and tensors or the
    shapes of random seeded ones (N(0, 1), each input its own stream)."""
    from percgrad.engines.user_code import parameter_names, resolve_function
    from percgrad.engines.user_data import parse_shapes

    method_for(method, 0)
    if dtype not in ("float32", "float64"):
        raise PercgradError(f"{dtype!r} is not one of: float32, float64", "--dtype")
    if inputs and shapes is not None:
        raise PercgradError("give input tensors or --shapes, not both", "--shapes")
    if not inputs and shapes is None:
        raise PercgradError("give the inputs' shapes, e.g. --shapes 3x4,4", "--shapes")
    sizes = None
    if shapes is not None:
        sizes = parse_shapes(shapes) if isinstance(shapes, str) else \
            [tuple(int(v) for v in s) for s in shapes]
    target = fn if isinstance(fn, str) else ""
    func, name = resolve_function(fn)
    if sizes is not None:
        compute = torch.float64 if dtype == "float64" else torch.float32
        inputs = [random_tensor(s, seed, compute, salt=i) for i, s in enumerate(sizes)]
    names = parameter_names(func, len(inputs))
    report = check_function(func, inputs, names, method, tolerance, seed, dtype, target, name,
                            progress)
    report.settings["inputs"] = f"N(0, 1) of shapes {shapes}" if sizes is not None else "given"
    if sizes is not None:
        report.settings["shapes"] = [list(s) for s in sizes]
    return report
