"""A run's tensors as a plain Report: each layer's three gradients compared (autograd, and the
finite differences when they ran), the verdict, the learner's warnings, and the settings."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from percgrad.catalog import ACTIVATIONS, LOSSES
from percgrad.engines.run_tensors import Run, first_nonfinite, stage
from percgrad.engines.saturation import saturated_share
from percgrad.gradcheck.compare import Pair, compare, fast_verdict, float64_match, frobenius, versus_numeric
from percgrad.gradcheck.network import FastProjections, FullGradients
from percgrad.network.linalg import AUTO_BUDGET_S, spectral_norms, svd_seconds
from percgrad.reports.records import Mismatch, Notice
from percgrad.reports.run import (
    CheckReport,
    Comparison,
    LayerReport,
    OutputReport,
    ParamReport,
    Report,
    Triple,
)
from percgrad.runtime.device import DTYPES, device_info
from percgrad.runtime.progress import Progress, Tracker, ticker
from percgrad.spec.run import Spec
from percgrad.version import __version__


def to_numpy(t: Tensor | None) -> np.ndarray | None:
    """A float64 NumPy copy on the CPU."""
    return None if t is None else t.detach().to("cpu", torch.float64).numpy().copy()


def _mask_numpy(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().to("cpu").numpy().copy()


def _settings(spec: Spec, device: torch.device, method: str, tol: float) -> dict[str, object]:
    return {
        "inputs": spec.sizes[0],
        "outputs": spec.sizes[-1],
        "hidden": list(spec.sizes[1:-1]),
        "activation": spec.activation,
        "loss": spec.loss,
        "init": spec.init,
        "gain": spec.gain,
        "sigma_w2": spec.sigma_w2,
        "sigma_b2": spec.sigma_b2,
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
        "b_given": spec.b is not None,
        "mistake": spec.mistake,
        "residual": spec.residual,
        "norm": spec.norm,
        "arch": spec.arch,
        **({} if spec.chain is None else dataclasses.asdict(spec.chain)),
    }


def _triple(keep: bool, an: Tensor, ag: Tensor, nu: Tensor | None, excluded: Tensor | None) -> Triple:
    if not keep:
        return Triple(None, None, None, None)
    return Triple(to_numpy(an), to_numpy(ag), to_numpy(nu), _mask_numpy(excluded))


def _layer_reports(run: Run, tol: float, track: Tracker | None = None,
                   progress: Progress | None = None) -> tuple[list[LayerReport], CheckReport]:
    """Each layer's report and the check's verdict (``progress``: the layers reported)."""
    spec, net, num = run.spec, run.net, run.numeric
    dtype = DTYPES[spec.dtype]
    info = torch.finfo(dtype)
    ag_floor = info.tiny / info.eps
    num_floor = 0.0 if num is None else num.noise / tol
    keep = spec.keep_tensors
    layers: list[LayerReport] = []
    failures: list[Mismatch] = []
    worst = 0.0
    kinks_total = unresolved_total = 0
    depth = net.depth
    delta_norms = [frobenius(d) for d in run.autograd.deltas]
    plain = spec.arch == "plain"
    shapes = [tuple(w.shape) for w in net.weights[1:]]
    with_bound = plain and (spec.bound if spec.bound is not None
                            else svd_seconds(shapes) <= AUTO_BUDGET_S)  # type: ignore[arg-type]
    norms2 = (spectral_norms(net.weights[1:], stage(track, "spectral bound (SVDs)"))
              if with_bound and depth > 1 else [])
    tick = ticker(progress, depth)
    for k, layer_obj in enumerate(net.layers):
        names = layer_obj.names
        g_an_all, g_ag_all = run.analytic.params[k], run.autograd.params[k]
        pairs: list[Pair] = [(an, ag, None, sym) for an, ag, sym in zip(g_an_all, g_ag_all, names)]
        vs_ag = compare(k, pairs, ag_floor)
        vs_num: Comparison | None = None
        nu_all: list[Tensor | None] = [None] * len(names)
        ex_all: list[Tensor | None] = [None] * len(names)
        kinks = unresolved = 0
        if isinstance(num, FullGradients):
            side = versus_numeric(num, run.analytic, k, tol, num_floor)
            vs_num, kinks, unresolved = side.comparison, side.kinks, side.unsettled
            nu_all, ex_all = list(side.values), list(side.excluded)
            kinks_total += kinks
            unresolved_total += unresolved
        tr = run.fwd.traces[k]
        slope = layer_obj.act.derivative(tr.z, layer_obj.act.value(tr.z) if layer_obj.skips else tr.out)
        dphi = slope.abs()
        finite = all(
            bool(torch.isfinite(t).all())
            for t in (tr.a, tr.out, *g_an_all, *g_ag_all, run.autograd.deltas[k])
        )
        measured = bound = None
        holds = None
        if k + 1 < depth:
            d_next = delta_norms[k + 1]
            if d_next > 0:
                measured = (delta_norms[k] / d_next) ** 2  # squaring first underflows below 1e-154
            if norms2:
                bound = layer_obj.act.dphi_sup * norms2[k] * d_next
                slack = 1.0 + 1e3 * info.eps
                holds = bool(delta_norms[k] <= bound * slack + info.tiny) if finite else None
        triples = [_triple(keep, an, ag, nu, ex)
                   for an, ag, nu, ex in zip(g_an_all, g_ag_all, nu_all, ex_all)]
        bias_at = layer_obj.index("b")
        others = [
            ParamReport(f"{sym}{k + 1}", to_numpy(p) if keep else None, triples[i])
            for i, (sym, p) in enumerate(zip(names, layer_obj.params)) if sym not in ("W", "b")
        ]
        g_num = nu_all[0]
        layer = LayerReport(
            name=f"W{k + 1}",
            shape=layer_obj.shape,
            weight=to_numpy(layer_obj.weight) if keep else None,
            bias=to_numpy(layer_obj.bias) if keep and layer_obj.bias is not None else None,
            grad=triples[0],
            bias_grad=None if bias_at is None else triples[bias_at],
            weight_norm=frobenius(layer_obj.weight),
            grad_norm=frobenius(g_ag_all[0]),
            grad_norm_analytic=frobenius(g_an_all[0]),
            grad_norm_numeric=None if g_num is None else frobenius(g_num),
            delta_norm=delta_norms[k],
            vs_autograd=vs_ag,
            vs_numeric=vs_num,
            mean_abs_dphi=float(dphi.double().mean()),
            saturated=saturated_share(dphi, layer_obj.act),
            dead_units=float((dphi == 0).all(dim=0).double().mean()) if dphi.dim() == 2 else 0.0,
            finite=finite,
            kinks=kinks,
            unresolved=unresolved,
            measured_factor=measured,
            bound=bound,
            bound_holds=holds,
            kind=layer_obj.kind,
            others=others,
            pre=to_numpy(tr.a) if keep else None,
            post=to_numpy(tr.out) if keep else None,
            delta=to_numpy(run.analytic.deltas[k]) if keep else None,
            dphi=to_numpy(slope) if keep else None,
            post_sample=to_numpy(tr.out[0]),
        )
        layers.append(layer)
        for label, cmp in (("autograd", vs_ag), ("numeric", vs_num)):
            if cmp is None:
                continue
            worst = max(worst, cmp.rel_error)
            if not cmp.rel_error <= tol:
                a_val, r_val = cmp.worst_values or (float("nan"), float("nan"))
                f64 = None
                if label == "numeric" and isinstance(num, FullGradients):
                    f64 = float64_match(num, run.analytic64, k, tol, num_floor)
                failures.append(Mismatch(label, cmp.rel_error, tol, spec.dtype, k + 1, cmp.worst,
                                         a_val, r_val, float64_rel_error=f64))
        if tick is not None:
            tick(k + 1)
    method = spec.resolved_check()
    directions = None
    if isinstance(num, FastProjections):
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
    check.mistake = spec.mistake
    if directions and not failures and 2 * (check.kinks + check.unresolved) > len(directions):
        # Most random directions could not be judged: passing on the rest would overstate it.
        check.passed = None
        check.inconclusive = True
    every = [g for gs in (*run.analytic.params, *run.autograd.params) for g in gs]
    if check.passed is not False and all(not bool(g.any()) for g in every):
        # 0 = 0 everywhere proves nothing about the derivation.
        check.passed = None
        check.vacuous = True
    return layers, check


def _first_underflow(layers: list[LayerReport]) -> int | None:
    """The 1-based layer where δ became exactly 0 although the layer above it was not and the
    layer's units were not all dead: only underflow zeroes such a product."""
    for k in range(len(layers) - 2, -1, -1):
        layer, above = layers[k], layers[k + 1]
        if layer.delta_norm == 0 and above.delta_norm > 0 and layer.mean_abs_dphi > 0:
            return k + 1
    return None


INIT_SCALE_WARN = 4.0
"""σ_w² above this under ``normal`` earns a warning: each layer then multiplies the spread of
the pre-activations by √σ_w² ≥ 2, so sigmoid and tanh saturate and ReLU chains explode."""
SATURATED_WARN = 0.5
"""A layer with at least this share of saturated units earns a warning."""
DEAD_WARN = 0.5
"""A layer with at least this share of units dead on the whole batch earns a warning."""
DEAD_WARN_ONE_SAMPLE = 0.9
"""The same with a batch of one sample, where half the units are 0 by chance."""


def _learner_notices(spec: Spec, layers: list[LayerReport]) -> list[Notice]:
    """What a learner needs to know to read the numbers: an init scale far from 1, saturated
    units, dead units."""
    notes: list[Notice] = []
    if spec.init == "normal":
        fan_in = max(spec.sizes[:-1])
        scale = fan_in * spec.gain * spec.gain  # ** overflows (an exception) where * gives inf
        if scale > INIT_SCALE_WARN:
            notes.append(Notice("init-scale", count=fan_in, value=scale))
    info = ACTIVATIONS[spec.activation]
    if not info.kink:
        sat = tuple(k + 1 for k, layer in enumerate(layers) if layer.saturated >= SATURATED_WARN)
        depth = len(layers)
        if depth in sat and LOSSES[spec.loss].cancels_sigmoid and not spec.residual_at(depth - 1):
            # bce after a sigmoid: σ′ of the output cancels (δ = (o−t)/n), it multiplies nothing.
            sat = sat[:-1]
            out = layers[-1]
            notes.append(Notice("saturated-cancels", layers=(depth,), value=out.saturated,
                                activation=spec.activation, count=spec.sizes[depth],
                                dphi=out.mean_abs_dphi))
        if sat:
            share = max(layers[k - 1].saturated for k in sat)
            notes.append(Notice("saturated", layers=sat, value=share, activation=spec.activation,
                                count=spec.sizes[sat[0]], dphi=layers[sat[0] - 1].mean_abs_dphi))
    else:
        # With one sample about half of a ReLU layer is 0 by chance: warn only when most is.
        share = DEAD_WARN if spec.batch > 1 else DEAD_WARN_ONE_SAMPLE
        dying = tuple(k + 1 for k, layer in enumerate(layers) if share <= layer.dead_units < 1.0)
        if dying:
            notes.append(Notice("dead-units", layers=dying, activation=spec.activation,
                                value=max(layers[k - 1].dead_units for k in dying), count=spec.batch))
    return notes


def build_report(run: Run, timing: dict[str, float], track: Tracker | None = None,
                 progress: Progress | None = None) -> Report:
    """Turn the tensors of a run into a plain Report (``progress``: its layers compared)."""
    spec = run.spec
    tol = spec.resolved_tolerance()
    method = spec.resolved_check()
    layers, check = _layer_reports(run, tol, track, progress)
    bad = first_nonfinite(run.fwd, [run.analytic, run.autograd])
    warnings: list[Notice] = []
    plain_first = [k + 1 for k in range(spec.depth) if spec.residual and not spec.residual_at(k)]
    if plain_first:
        warnings.append(Notice("first-layer-plain", layers=tuple(plain_first)))
    if bad is not None:
        check.passed = None
        check.max_rel_error = None
        check.failures = []
        warnings.append(Notice("nonfinite", where=bad, dtype=spec.dtype))
    underflow = _first_underflow(layers)
    if underflow is not None:
        fi = torch.finfo(DTYPES[spec.dtype])
        for layer in layers[:underflow]:
            layer.underflow = True
        warnings.append(Notice("underflow", layers=tuple(range(1, underflow + 1)), dtype=spec.dtype,
                               value=fi.smallest_normal * fi.eps))
    warnings += _learner_notices(spec, layers)
    if check.unresolved:
        warnings.append(Notice("unsettled", count=check.unresolved))
    if check.kinks:
        warnings.append(Notice("kinks", count=check.kinks, activation=spec.activation))
    keep = spec.keep_tensors
    out = None
    if keep:
        last = run.fwd.traces[-1]
        act = run.net.layers[-1].act
        out = OutputReport(
            pre=to_numpy(last.z),  # type: ignore[arg-type]
            dE_do=to_numpy(run.net.loss.grad_output(last.out, run.net.t)),  # type: ignore[arg-type]
            do_da=to_numpy(act.derivative(last.z, act.value(last.z))),  # type: ignore[arg-type]
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
