"""One run: build, forward, the three backward passes, comparison, timings → a Report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from percgrad import __version__
from percgrad.backprop import Forward, Gradients, analytic_backward, autograd_backward, forward
from percgrad.device import DTYPES, available_bytes, check_dtype, device_info, resolve_device, synchronize
from percgrad.functions import Activation, Loss, activation, loss
from percgrad.linalg import AUTO_BUDGET_S, spectral_norms, svd_seconds
from percgrad.memory import guard
from percgrad.net import Net, build_net
from percgrad.numeric import NumericGradients, fast_gradients, full_gradients, too_steep
from percgrad.report import (
    CheckReport,
    Comparison,
    LayerReport,
    OutputReport,
    Report,
    Triple,
)
from percgrad.spec import Spec

SATURATION = 0.1
"""A unit is saturated when |φ′(a)| is below this fraction of sup |φ′|."""

Progress = Callable[[int, int], None]
T = TypeVar("T")


@dataclass
class Run:
    """The tensors of a run, kept for commands that look further (vanish, training)."""

    spec: Spec
    net: Net
    act: Activation
    loss: Loss
    fwd: Forward
    analytic: Gradients
    autograd: Gradients
    numeric: NumericGradients | None
    device: torch.device
    analytic64: Gradients | None = None
    """The analytic gradient recomputed in float64 (when the check ran in another dtype): it
    tells a wrong derivation from float32 round-off amplified by the network."""


def frobenius(t: Tensor) -> float:
    """‖t‖_F in float64, scaled by max|t| first so that entries near 1e-170 do not square to 0."""
    t = t.detach().to(torch.float64)
    peak = t.abs().max() if t.numel() else torch.zeros((), dtype=torch.float64)
    if not bool(torch.isfinite(peak)) or float(peak) == 0.0:
        return float(peak) if t.numel() else 0.0
    return float(peak * torch.linalg.vector_norm(t / peak))


def to_numpy(t: Tensor | None) -> np.ndarray | None:
    """A float64 NumPy copy on the CPU."""
    return None if t is None else t.detach().to("cpu", torch.float64).numpy().copy()


def _mask_numpy(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().to("cpu").numpy().copy()


def _entry_name(layer: int, index: tuple[int, ...], bias: bool) -> str:
    prefix = "b" if bias else "W"
    return f"{prefix}{layer + 1}[{','.join(str(i) for i in index)}]"


def compare(
    layer: int,
    pairs: list[tuple[Tensor, Tensor, Tensor | None, bool]],
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
                _entry_name(layer, index, is_bias),
                (float(a64.flatten()[flat]), float(b64.flatten()[flat])),
            )
        else:
            best.max_abs_diff = max(best.max_abs_diff, max_abs)
    best.skipped = skipped
    return best


def _first_nonfinite(fwd: Forward, grads: list[Gradients]) -> str | None:
    for k, (a, h) in enumerate(zip(fwd.pre, fwd.post)):
        if not bool(torch.isfinite(a).all()):
            return f"layer {k + 1} pre-activation a{k + 1}"
        if not bool(torch.isfinite(h).all()):
            return f"layer {k + 1} output h{k + 1}"
    if not bool(torch.isfinite(fwd.loss)):
        return "the loss"
    for g in grads:
        for k in range(len(g.weights) - 1, -1, -1):
            if not bool(torch.isfinite(g.deltas[k]).all()):
                return f"layer {k + 1} back-propagated gradient δ{k + 1}"
            if not bool(torch.isfinite(g.weights[k]).all()):
                return f"layer {k + 1} gradient ∂E/∂W{k + 1}"
    return None


def _timed(device: torch.device, fn: Callable[[], T]) -> tuple[T, float]:
    synchronize(device)
    start = time.perf_counter()
    value = fn()
    synchronize(device)
    return value, time.perf_counter() - start


def execute(spec: Spec, progress: Progress | None = None) -> tuple[Run, dict[str, float]]:
    """Build the network of ``spec`` and run the forward and the three backward passes."""
    device = resolve_device(spec.device)
    dtype = DTYPES[spec.dtype]
    check_dtype(device, dtype)
    guard(spec, available_bytes(device), spec.max_memory, str(device),
          training=bool(spec.extra.get("steps")))
    act, lossf = activation(spec.activation), loss(spec.loss)
    net = build_net(spec, device, dtype)
    fwd, t_fwd = _timed(device, lambda: forward(net, act, lossf))
    analytic, t_an = _timed(device, lambda: analytic_backward(net, fwd, act, lossf))
    auto_result, t_ag = _timed(device, lambda: autograd_backward(net, act, lossf))
    autograd = auto_result[0]
    method = spec.resolved_check()
    numeric: NumericGradients | None = None
    analytic64: Gradients | None = None
    t_num = 0.0
    if method != "off" and _first_nonfinite(fwd, [analytic, autograd]) is None:
        net64 = net.to(device, torch.float64)
        if dtype != torch.float64:
            analytic64 = analytic_backward(net64, forward(net64, act, lossf), act, lossf)
        compared = [analytic, autograd] + ([analytic64] if analytic64 is not None else [])
        if method == "full":
            numeric, t_num = _timed(
                device, lambda: full_gradients(net64, act, lossf, progress=progress)
            )
        else:
            numeric, t_num = _timed(
                device, lambda: fast_gradients(net64, act, lossf, compared, seed=spec.seed)
            )
        del net64
    timing = {"forward_s": t_fwd, "analytic_s": t_an, "autograd_s": t_ag, "numeric_s": t_num}
    run = Run(spec, net, act, lossf, fwd, analytic, autograd, numeric, device, analytic64)
    return run, timing


def _settings(spec: Spec, device: torch.device, method: str, tol: float) -> dict[str, object]:
    return {
        "inputs": spec.sizes[0],
        "outputs": spec.sizes[-1],
        "hidden": list(spec.sizes[1:-1]),
        "activation": spec.activation,
        "loss": spec.loss,
        "init": spec.init,
        "gain": spec.gain,
        "bias": spec.bias,
        "batch": spec.batch,
        "seed": spec.seed,
        "device": str(device),
        "dtype": spec.dtype,
        "check": method,
        "tolerance": tol,
        "target": list(spec.target),
        "x_given": spec.x is not None,
        "w_given": spec.w is not None,
        **spec.extra,
    }


def _layer_reports(run: Run, tol: float) -> tuple[list[LayerReport], CheckReport]:
    spec, net, num = run.spec, run.net, run.numeric
    dtype = DTYPES[spec.dtype]
    info = torch.finfo(dtype)
    ag_floor = info.tiny / info.eps
    num_floor = 0.0 if num is None else num.noise / tol
    keep = spec.keep_tensors
    layers: list[LayerReport] = []
    failures: list[str] = []
    worst = 0.0
    kinks_total = unresolved_total = 0
    depth = net.depth
    delta_norms = [frobenius(d) for d in run.autograd.deltas]
    shapes = [tuple(w.shape) for w in net.weights[1:]]
    with_bound = spec.bound if spec.bound is not None else svd_seconds(shapes) <= AUTO_BUDGET_S  # type: ignore[arg-type]
    norms2 = spectral_norms(net.weights[1:]) if with_bound and depth > 1 else []
    for k in range(depth):
        w, b = net.weights[k], net.biases[k]
        g_an, g_ag = run.analytic.weights[k], run.autograd.weights[k]
        gb_an, gb_ag = run.analytic.biases[k], run.autograd.biases[k]
        pairs: list[tuple[Tensor, Tensor, Tensor | None, bool]] = [(g_an, g_ag, None, False)]
        if gb_an is not None and gb_ag is not None:
            pairs.append((gb_an, gb_ag, None, True))
        vs_ag = compare(k, pairs, ag_floor)
        vs_num: Comparison | None = None
        g_num = gb_num = excluded = b_excluded = None
        kinks = unresolved = 0
        if num is not None and num.method == "full":
            side = _versus_numeric(run, k, tol, num_floor)
            vs_num, kinks, unresolved = side.comparison, side.kinks, side.unsettled
            g_num, gb_num, excluded, b_excluded = (side.weights, side.biases, side.excluded,
                                                   side.bias_excluded)
            kinks_total += kinks
            unresolved_total += unresolved
        dphi = run.act.derivative(run.fwd.pre[k], run.fwd.post[k]).abs()
        finite = all(
            bool(torch.isfinite(t).all())
            for t in (run.fwd.pre[k], run.fwd.post[k], g_an, g_ag, run.autograd.deltas[k])
        )
        measured = bound = None
        holds = None
        if k + 1 < depth:
            d_next = delta_norms[k + 1]
            if d_next > 0:
                measured = (delta_norms[k] / d_next) ** 2  # squaring first underflows below 1e-154
            if norms2:
                bound = run.act.dphi_sup * norms2[k] * d_next
                slack = 1.0 + 1e3 * info.eps
                holds = bool(delta_norms[k] <= bound * slack + info.tiny) if finite else None
        layer = LayerReport(
            name=f"W{k + 1}",
            shape=(int(w.shape[0]), int(w.shape[1])),
            weight=to_numpy(w) if keep else None,
            bias=to_numpy(b) if keep else None,
            grad=Triple(
                to_numpy(g_an) if keep else None,
                to_numpy(g_ag) if keep else None,
                to_numpy(g_num) if keep else None,
                _mask_numpy(excluded) if keep else None,
            ),
            bias_grad=None if b is None else Triple(
                to_numpy(gb_an) if keep else None,
                to_numpy(gb_ag) if keep else None,
                to_numpy(gb_num) if keep else None,
                _mask_numpy(b_excluded) if keep else None,
            ),
            weight_norm=frobenius(w),
            grad_norm=frobenius(g_ag),
            grad_norm_analytic=frobenius(g_an),
            grad_norm_numeric=None if g_num is None else frobenius(g_num),
            delta_norm=delta_norms[k],
            vs_autograd=vs_ag,
            vs_numeric=vs_num,
            mean_abs_dphi=float(dphi.double().mean()),
            saturated=float((dphi < SATURATION * run.act.dphi_sup).double().mean()),
            finite=finite,
            kinks=kinks,
            unresolved=unresolved,
            measured_factor=measured,
            bound=bound,
            bound_holds=holds,
        )
        layers.append(layer)
        for label, cmp in (("autograd", vs_ag), ("numeric", vs_num)):
            if cmp is None:
                continue
            worst = max(worst, cmp.rel_error)
            if not cmp.rel_error <= tol:
                a_val, r_val = cmp.worst_values or (float("nan"), float("nan"))
                failures.append(
                    f"{layer.name}: analytic and {label} disagree most at {cmp.worst}: "
                    f"analytic {a_val:.6g} vs {label} {r_val:.6g} "
                    f"(relative error {cmp.rel_error:.2e} > tolerance {tol:.0e})"
                    + (_rounding_note(run, k, tol, num_floor, spec.dtype) if label == "numeric" else "")
                )
    method = spec.resolved_check()
    directions = None
    if num is not None and num.method == "fast":
        directions, d_worst, d_failures, d_kinks, d_unresolved = _fast_verdict(
            num, tol, num_floor, spec.dtype
        )
        worst = max(worst, d_worst)
        failures += d_failures
        kinks_total += d_kinks
        unresolved_total += d_unresolved
    check = CheckReport(
        method=method,
        tolerance=tol,
        max_rel_error=worst,
        passed=not failures,
        failures=failures,
        resolution=None if num is None else num.noise,
        directions=directions,
        kinks=kinks_total,
        unresolved=unresolved_total,
    )
    return layers, check


def _masked(a: Tensor, n: Tensor, spread: Tensor, kinks: Tensor, tol: float,
            floor: float, num: NumericGradients) -> tuple[Tensor, int]:
    """Entries to leave out: kinks, and differences that cannot be trusted (their step ladder
    never settled to within the tolerance, or the slope is too steep for any step); and how
    many of the latter."""
    scale = max(float(a.abs().max()), float(n.abs().max()), floor)
    unsettled = ((spread > tol * scale) | too_steep(a.to(spread.device), num)) & ~kinks
    return kinks | unsettled.to(kinks.device), int(unsettled.sum())


@dataclass
class _NumericSide:
    """Layer k against the full finite differences."""

    comparison: Comparison
    kinks: int
    unsettled: int
    weights: Tensor
    biases: Tensor | None
    excluded: Tensor
    """Weight entries left out (kinks and unsettled differences)."""
    bias_excluded: Tensor | None


def _versus_numeric(
    run: Run, k: int, tol: float, floor: float, analytic: Gradients | None = None
) -> _NumericSide:
    """Layer k's analytic gradient against the full finite differences, kinks and unsettled
    differences left out."""
    num = run.numeric
    assert num is not None and num.weights is not None and num.biases is not None
    assert num.weight_kinks is not None and num.bias_kinks is not None
    assert num.weight_spread is not None and num.bias_spread is not None
    grads = analytic or run.analytic
    g_an, gb_an = grads.weights[k], grads.biases[k]
    g_num, gb_num = num.weights[k], num.biases[k]
    mask, unsettled = _masked(g_an.double(), g_num, num.weight_spread[k], num.weight_kinks[k],
                              tol, floor, num)
    pairs: list[tuple[Tensor, Tensor, Tensor | None, bool]] = [(g_an, g_num, mask, False)]
    kinks = int(num.weight_kinks[k].sum())
    spread_b, kinks_b = num.bias_spread[k], num.bias_kinks[k]
    mask_b = None
    if gb_an is not None and gb_num is not None and spread_b is not None and kinks_b is not None:
        mask_b, unsettled_b = _masked(gb_an.double(), gb_num, spread_b, kinks_b, tol, floor, num)
        pairs.append((gb_an, gb_num, mask_b, True))
        kinks += int(kinks_b.sum())
        unsettled += unsettled_b
    return _NumericSide(compare(k, pairs, floor), kinks, unsettled, g_num, gb_num, mask, mask_b)


def _rounding_note(run: Run, k: int, tol: float, floor: float, dtype: str) -> str:
    """When the float64 analytic gradient does match: the gap is the dtype's round-off."""
    if run.analytic64 is None:
        return ""
    cmp64 = _versus_numeric(run, k, tol, floor, run.analytic64).comparison
    if not cmp64.rel_error <= tol:
        return ""
    return (
        f". The same formula in float64 matches to {cmp64.rel_error:.1e}: the gap is {dtype} "
        "round-off amplified by this network, not the derivation (try --dtype float64)"
    )


def _fast_verdict(
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


def _first_underflow(layers: list[LayerReport]) -> int | None:
    """The 1-based layer where δ became exactly 0 although the layer above it was not and the
    layer's units were not all dead: only underflow zeroes such a product."""
    for k in range(len(layers) - 2, -1, -1):
        layer, above = layers[k], layers[k + 1]
        if layer.delta_norm == 0 and above.delta_norm > 0 and layer.mean_abs_dphi > 0:
            return k + 1
    return None


def build_report(run: Run, timing: dict[str, float]) -> Report:
    """Turn the tensors of a run into a plain Report."""
    spec = run.spec
    tol = spec.resolved_tolerance()
    method = spec.resolved_check()
    layers, check = _layer_reports(run, tol)
    bad = _first_nonfinite(run.fwd, [run.analytic, run.autograd])
    warnings: list[str] = []
    if bad is not None:
        check.passed = None
        check.max_rel_error = None
        check.failures = []
        hint = "--dtype float64" if spec.dtype == "float32" else "a smaller --gain or a shallower net"
        warnings.append(
            f"non-finite values (overflow or NaN) first appear in {bad}; the gradient check "
            f"does not apply. Try {hint}."
        )
    underflow = _first_underflow(layers)
    if underflow is not None:
        tiny = torch.finfo(DTYPES[spec.dtype]).smallest_normal * torch.finfo(DTYPES[spec.dtype]).eps
        for layer in layers[:underflow]:
            layer.underflow = True
        hint = " (--dtype float64 reaches about 1e-308)" if spec.dtype == "float32" else ""
        warnings.append(
            f"δ underflows to exactly 0 in layers 1–{underflow}: "
            f"{spec.dtype} holds no magnitude below about {tiny:.0e}{hint}."
        )
    if check.unresolved:
        warnings.append(
            f"{check.unresolved} finite difference(s) could not be trusted (they never settled "
            "across the step sizes tried, or the slope is too steep for any step: typical of "
            "exploding nets) and were left out of the check."
        )
    if check.kinks:
        warnings.append(
            f"{check.kinks} finite difference(s) straddled the kink of {spec.activation} at 0 "
            "and were left out of the check."
        )
    keep = spec.keep_tensors
    out = None
    if keep:
        a_l, o = run.fwd.pre[-1], run.fwd.post[-1]
        out = OutputReport(
            pre=to_numpy(a_l),  # type: ignore[arg-type]
            dE_do=to_numpy(run.loss.grad_output(o, run.net.t)),  # type: ignore[arg-type]
            do_da=to_numpy(run.act.derivative(a_l, o)),  # type: ignore[arg-type]
            delta=to_numpy(run.analytic.deltas[-1]),  # type: ignore[arg-type]
        )
    return Report(
        command=spec.command,
        version=__version__,
        settings=_settings(spec, run.device, method, tol),
        device=device_info(run.device),
        input=to_numpy(run.net.x) if keep else None,
        target=to_numpy(run.net.t) if keep else None,
        output=to_numpy(run.fwd.output) if keep else None,
        loss=float(run.fwd.loss),
        layers=layers,
        check=check,
        timing=timing,
        out=out,
        warnings=warnings,
        first_nonfinite=bad,
    )


def run(spec: Spec, progress: Progress | None = None) -> Report:
    """One run of ``spec`` from start to report."""
    result, timing = execute(spec, progress)
    return build_report(result, timing)
