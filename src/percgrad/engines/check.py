"""``percgrad check``: a readable gradcheck of a function of tensors. Autograd's gradient of
v·f (v a random cotangent per output, so one backward pass judges the whole Jacobian) against
float64 central differences of the same v·f, input by input: the worst entry with both values,
its relative error and the step ladder that settled it; kinks and unsettled differences left
out and counted. The comparisons here serve ``inspect``'s checks too."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from percgrad.engines.user_code import hosted
from percgrad.engines.user_data import random_tensor
from percgrad.errors import PercgradError
from percgrad.gradcheck.blackbox import BlackBoxDifferences
from percgrad.gradcheck.function import COTANGENT_SALT, Objective, run_objective
from percgrad.reports.user import FunctionCheckReport, GradCheck, Note
from percgrad.runtime.progress import Progress
from percgrad.spec import check as judge
from percgrad.version import __version__

VALUES_MAX = 4096
"""Entries per input up to which the report keeps every analytic and numeric value (--plot)."""




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
    from percgrad.engines.user_code import _first_line, _where, hosted

    try:
        with hosted(what.removesuffix("calling") + name):  # "f called sys.exit(5)"
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
    with torch.enable_grad():  # whatever the caller's (or the user's code's) setting
        outs = _outputs(call_user(fn, inputs, name))
    if not outs:
        raise PercgradError(f"{name} returned no floating-point tensor to differentiate (a "
                            "whole-number output, .long() or argmax, carries no gradient)",
                            "TARGET")
    empty = [tuple(o.shape) for o in outs if o.numel() == 0]
    if len(empty) == len(outs):
        shape = "×".join(map(str, empty[0])) or "scalar"
        raise PercgradError(f"{name} returned an output with no entries (shape {shape}): there "
                            "is no derivative to check", "TARGET")
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
            with hosted(f"the backward pass of {name}"):
                got = torch.autograd.grad(e, leaves, retain_graph=k + 1 < len(outs),
                                          allow_unused=True)
        except PercgradError:
            raise
        except Exception as exc:
            from percgrad.engines.user_code import _first_line, _where

            raise PercgradError(f"the backward pass of {name} raised {_first_line(exc)}"
                                f"{_where(exc)}", "TARGET") from None
        grads.append([torch.zeros_like(x) if g is None else g.detach() for x, g in zip(leaves, got)])
    return grads, cotangents, outs


def check_function(fn: Callable[..., Any], inputs: Sequence[Any], names: Sequence[str] | None = None,
                   method: str = "auto", tolerance: float | None = None, seed: int = 0,
                   dtype: str = "float64", target: str = "", function: str = "",
                   progress: Progress | None = None,
                   notes: Sequence[Note] = ()) -> FunctionCheckReport:
    """Check ``fn(*inputs)``: autograd in ``dtype`` against float64 central differences, for
    every floating-point input (other arguments are passed as they are); ``notes``: what the
    loading of the user's code found."""
    started = time.perf_counter()
    name = function or getattr(fn, "__name__", "the function")
    if dtype not in ("float32", "float64"):
        raise PercgradError(f"{dtype!r} is not one of: float32, float64", "--dtype")
    compute = torch.float64 if dtype == "float64" else torch.float32
    tol = judge.tolerance(dtype, tolerance)
    float_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.is_floating_point()]
    if not float_idx:
        raise PercgradError(f"{name} has no floating-point tensor input to check", "--shapes")
    if all(inputs[i].numel() == 0 for i in float_idx):
        raise PercgradError(f"every input of {name} has no entries: there is nothing to "
                            "differentiate by", "--shapes")
    labels = list(names) if names is not None and len(names) == len(inputs) else \
        [f"arg{i}" for i in range(len(inputs))]
    shapes = [tuple(inputs[i].shape) for i in float_idx]
    entries = sum(max(1, math.prod(s)) for s in shapes)
    chosen = judge.method(method, entries)

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
    notes = list(notes)
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
        # a later call that fails (the function raises on its third call) is the user's error:
        # named, exit 2 (under vmap the error only sends the check to its plain loop)
        outs = _outputs(call_user(fn, args, name, "during the finite differences, calling"))
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


def _guard(shapes: Sequence[tuple[int, ...]], size: int, method: str,
           limit: int | None) -> None:
    """Refuse a check whose floor (runtime.memory.function_floor) cannot fit, before its
    inputs are drawn."""
    from percgrad.runtime import memory
    from percgrad.runtime.device import available_bytes

    count = sum(max(1, math.prod(s)) for s in shapes)
    parts = memory.function_floor(count, len(shapes), size, judge.method(method, count))
    memory.guard_floor(parts, available_bytes(torch.device("cpu")), limit, "cpu",
                       "--shapes, --check off", "--shapes")


def check_target(fn: Any, inputs: list[Any], shapes: str | Sequence[Sequence[int]] | None = None,
                 method: str = "auto", tolerance: float | None = None, seed: int = 0,
                 dtype: str = "float64", progress: Progress | None = None,
                 max_memory: int | None = None) -> FunctionCheckReport:
    """``check`` from what the user gives: a TARGET string or a function, and tensors or the
    shapes of random seeded ones (N(0, 1), each input its own stream)."""
    from percgrad.engines.user_code import (
        GlobalState,
        guest_run,
        loaded_state,
        parameter_names,
        resolve_function,
    )
    from percgrad.engines.user_data import parse_shapes

    judge.method(method, 0)
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
    compute = torch.float64 if dtype == "float64" else torch.float32
    given = [tuple(x.shape) for x in inputs if isinstance(x, Tensor) and x.is_floating_point()]
    _guard(sizes if sizes is not None else given, compute.itemsize, method, max_memory)
    with guest_run(seed):
        # --seed seeds torch, NumPy and random before the user's code is imported
        before = GlobalState.now()
        func, name = resolve_function(fn)
        loaded = loaded_state(before, seed)
        if sizes is not None:
            inputs = [random_tensor(s, seed, compute, salt=i) for i, s in enumerate(sizes)]
        names = parameter_names(func, len(inputs))
        report = check_function(func, inputs, names, method, tolerance, seed, dtype, target, name,
                                progress, loaded)
    report.settings["inputs"] = f"N(0, 1) of shapes {shapes}" if sizes is not None else "given"
    if sizes is not None:
        report.settings["shapes"] = [list(s) for s in sizes]
    return report
