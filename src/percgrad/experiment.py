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
from percgrad.comparison import (
    Pair,
    compare,
    fast_verdict,
    frobenius,
    rounding_note,
    versus_numeric,
)
from percgrad.device import DTYPES, available_bytes, check_dtype, device_info, resolve_device, synchronize
from percgrad.functions import Activation, Loss, activation, loss
from percgrad.linalg import AUTO_BUDGET_S, spectral_norms, svd_seconds
from percgrad.memory import guard
from percgrad.net import Net, build_net
from percgrad.numeric import NumericGradients, fast_gradients, full_gradients
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


def to_numpy(t: Tensor | None) -> np.ndarray | None:
    """A float64 NumPy copy on the CPU."""
    return None if t is None else t.detach().to("cpu", torch.float64).numpy().copy()


def _mask_numpy(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().to("cpu").numpy().copy()


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
        pairs: list[Pair] = [(g_an, g_ag, None, False)]
        if gb_an is not None and gb_ag is not None:
            pairs.append((gb_an, gb_ag, None, True))
        vs_ag = compare(k, pairs, ag_floor)
        vs_num: Comparison | None = None
        g_num = gb_num = excluded = b_excluded = None
        kinks = unresolved = 0
        if num is not None and num.method == "full":
            side = versus_numeric(num, run.analytic, k, tol, num_floor)
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
                    + (rounding_note(num, run.analytic64, k, tol, num_floor, spec.dtype)
                       if label == "numeric" and num is not None else "")
                )
    method = spec.resolved_check()
    directions = None
    if num is not None and num.method == "fast":
        directions, d_worst, d_failures, d_kinks, d_unresolved = fast_verdict(
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
        hint = ("--dtype float64 or a smaller --gain" if spec.dtype == "float32"
                else "a smaller --gain or a shallower net")
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
            f"{check.unresolved} finite difference(s) could not be trusted and were left out of "
            "the check: they never settled across the step sizes tried (a loss too rough at that "
            "scale, or a change below the round-off), or the slope is too steep for any step."
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
