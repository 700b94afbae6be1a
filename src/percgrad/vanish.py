"""``vanish``: gradient flow through a deep chain, measured against mean-field theory, compared
across settings, and tracked over training."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from percgrad.backprop import analytic_backward, autograd_backward, forward
from percgrad.comparison import compare, frobenius
from percgrad.experiment import Run, build_report, execute
from percgrad.net import bias_std, weight_std
from percgrad.report import CheckReport, LayerReport, Report
from percgrad.spec import INIT_NAMES, Spec
from percgrad.theory import Theory, diagnose, predict

Progress = Callable[[int, int], None]
HISTORY_POINTS = 40
"""Training steps recorded (evenly spaced, first and last included)."""


def sigma_w2(spec: Spec, init: str | None = None, activation: str | None = None) -> list[float]:
    """fan_in · Var(W_k) for every layer under the init (the spec's unless given)."""
    init = init or spec.init
    act = activation or spec.activation
    stds = [weight_std(init, spec.gain, act, i, o) for i, o in zip(spec.sizes[:-1], spec.sizes[1:])]
    return [fan_in * sd * sd for fan_in, sd in zip(spec.sizes[:-1], stds)]  # sd**2 overflows


def sigma_b2(spec: Spec, init: str | None = None) -> list[float]:
    """Var(b_k) for every layer (zero without bias)."""
    init = init or spec.init
    stds = [bias_std(init, spec.gain, fan_in) if spec.bias else 0.0 for fan_in in spec.sizes[:-1]]
    return [sd * sd for sd in stds]


def theory_for(spec: Spec, q_in: float, init: str | None = None,
               activation: str | None = None) -> Theory:
    """The mean-field prediction for ``spec`` (optionally with another init or activation)."""
    return predict(
        activation or spec.activation, sigma_w2(spec, init, activation), sigma_b2(spec, init), q_in
    )


def _geometric_mean(values: list[float | None]) -> float | None:
    good = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not good:
        return None
    return math.exp(sum(math.log(v) for v in good) / len(good))


def _median(values: list[float]) -> float | None:
    good = sorted(v for v in values if math.isfinite(v))
    if not good:
        return None
    mid = len(good) // 2
    return good[mid] if len(good) % 2 else 0.5 * (good[mid - 1] + good[mid])


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 and math.isfinite(a) and math.isfinite(b) else None


def _advice(spec: Spec, q_in: float) -> list[str]:
    """Other inits or activations that the same theory puts closer to χ = 1, best first."""
    candidates = [(spec.activation, init) for init in INIT_NAMES if init != spec.init]
    for pair in (("tanh", "xavier"), ("relu", "kaiming")):
        if pair != (spec.activation, spec.init) and pair not in candidates:
            candidates.append(pair)
    current = theory_for(spec, q_in).mean_chi
    distance = abs(math.log(current)) if current else math.inf
    scored: list[tuple[float, str, str, float]] = []
    for act, init in candidates:
        chi = theory_for(spec, q_in, init=init, activation=act).mean_chi
        if chi and abs(math.log(chi)) < distance - 1e-9:
            scored.append((abs(math.log(chi)), act, init, chi))
    lines = [
        f"{act} with --init {init} (gain {spec.gain:g}) would give χ ≈ {chi:.3g} ({diagnose(chi)})"
        for _, act, init, chi in sorted(scored)[:3]
    ]
    if spec.activation == "sigmoid":
        lines.append(
            "sigmoid's φ′ ≤ 1/4 caps every factor at σ_w²/16: only large weights can offset it, "
            "and they saturate the units"
        )
    return lines


def analyse(run: Run, report: Report) -> None:
    """Add theory, factors, decay and a diagnosis to a report of a deep chain."""
    spec = run.spec
    q_in = float(run.net.x.double().square().mean())
    theory = theory_for(spec, q_in)
    for k, layer in enumerate(report.layers):
        layer.predicted_factor = theory.chi[k] if k < len(theory.chi) else None
    layers = report.layers
    measured = [layer.measured_factor for layer in layers[:-1]]
    mean_measured = _geometric_mean(measured)
    ratios = [
        m / p for m, p in zip(measured, theory.chi) if m is not None and p > 0 and math.isfinite(m)
    ]
    bounds = [layer.bound_holds for layer in layers if layer.bound_holds is not None]
    summary: dict[str, Any] = {
        "grad_decay": _ratio(layers[0].grad_norm, layers[-1].grad_norm),
        "delta_decay": _ratio(layers[0].delta_norm, layers[-1].delta_norm),
        "measured_mean_factor": mean_measured,
        "predicted_mean_factor": theory.mean_chi,
        "median_measured_over_predicted": _median(ratios),
        "diagnosis": diagnose(mean_measured if mean_measured is not None else theory.mean_chi),
        "predicted_diagnosis": diagnose(theory.mean_chi),
        "bound_holds": all(bounds) if bounds else None,
        "advice": _advice(spec, q_in),
        "notes": _notes(spec, layers),
    }
    report.extra["theory"] = {
        "sigma_w2": theory.sigma_w2[-1],
        "sigma_b2": theory.sigma_b2[-1],
        "sigma_w2_per_layer": theory.sigma_w2,
        "q": theory.q,
        "chi": theory.chi,
        "mean_chi": theory.mean_chi,
        "depth_scale": theory.depth_scale,
    }
    report.extra["summary"] = summary
    if any(layer.bound_holds is False for layer in layers):
        bad = next(layer.name for layer in layers if layer.bound_holds is False)
        report.warnings.append(f"the bound ‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖ fails at {bad}")


def _notes(spec: Spec, layers: list[LayerReport]) -> list[str]:
    notes = []
    if len(layers) > 1 and all(layer.bound is None for layer in layers):
        notes.append(
            "The spectral bound was skipped: one SVD per layer would take a while at this size "
            "(--bound computes it anyway)."
        )
    if spec.activation in ("relu", "leaky-relu") and spec.loss == "mse":
        notes.append(
            "ReLU's predicted factor is exactly σ_w²/2; the measured one sits a little above it "
            "with an MSE loss, because the output gradient is correlated with the forward pass "
            "(the theory assumes they are independent)."
        )
    if min(spec.sizes) < 32:
        notes.append(
            "Mean-field theory predicts averages over random weights of wide layers; a narrow "
            "chain fluctuates around it (try --width 256 to see it agree)."
        )
    return notes


def run_vanish(spec: Spec, progress: Progress | None = None) -> tuple[Report, Run]:
    """One deep chain: the core run plus theory and diagnosis."""
    result, timing = execute(spec, progress)
    report = build_report(result, timing)
    analyse(result, report)
    return report, result


def compare_runs(specs: list[tuple[str, Spec]], by: str,
                 progress: Progress | None = None) -> Report:
    """The same chain once per setting; one report holding them in ``runs``."""
    reports = []
    for label, spec in specs:
        report, _ = run_vanish(spec, progress)
        report.extra["label"] = label
        reports.append(report)
    first = reports[0]
    statuses = [r.check.passed for r in reports]
    passed = False if False in statuses else (None if None in statuses else True)
    errors = [r.check.max_rel_error for r in reports if r.check.max_rel_error is not None]
    check = CheckReport(
        method=first.check.method, tolerance=first.check.tolerance,
        max_rel_error=max(errors) if errors else None, passed=passed,
        failures=[f"{r.extra['label']}: {f}" for r in reports for f in r.check.failures],
        directions=[d for r in reports for d in (r.check.directions or [])] or None,
        kinks=sum(r.check.kinks for r in reports),
        unresolved=sum(r.check.unresolved for r in reports),
    )
    settings = {k: v for k, v in first.settings.items() if k != by}
    return Report(
        command="vanish", version=first.version, settings=settings, device=first.device,
        input=None, target=None, output=None, loss=float("nan"), layers=[], check=check,
        timing={}, extra={"compare": {"by": by, "values": [label for label, _ in specs]}},
        runs=reports,
        warnings=[f"{r.extra['label']}: {w}" for r in reports for w in r.warnings],
    )


def train(run: Run, report: Report, steps: int, lr: float,
          progress: Progress | None = None) -> None:
    """Plain SGD on the chain's fixed batch with the analytic gradients, checked against autograd
    at the recorded steps; adds ``history`` to the report."""
    net = run.net.to(run.device, run.net.weights[0].dtype)
    act, lossf = run.act, run.loss
    points = min(HISTORY_POINTS, steps + 1)
    recorded = sorted({round(i * steps / max(points - 1, 1)) for i in range(points)})
    info = torch.finfo(net.weights[0].dtype)
    floor = info.tiny / info.eps
    history: list[dict[str, Any]] = []
    for step in range(steps + 1):
        fwd = forward(net, act, lossf)
        grads = analytic_backward(net, fwd, act, lossf)
        loss_value = float(fwd.loss)
        finite = math.isfinite(loss_value) and all(
            bool(torch.isfinite(g).all()) for g in grads.weights
        )
        if step in recorded or not finite:
            auto, _ = autograd_backward(net, act, lossf)
            rel = max(
                compare(k, [(grads.weights[k], auto.weights[k], None, False)], floor).rel_error
                for k in range(net.depth)
            )
            history.append({
                "step": step,
                "loss": loss_value,
                "delta_norm": [frobenius(d) for d in grads.deltas],
                "grad_norm": [frobenius(g) for g in grads.weights],
                "rel_error": rel,
            })
        if not finite:
            report.warnings.append(
                f"training stopped at step {step}: the loss or a gradient is no longer finite "
                f"(try a smaller --lr than {lr:g})"
            )
            break
        if step == steps:
            break
        with torch.no_grad():
            for w, g in zip(net.weights, grads.weights):
                w.sub_(lr * g)
            for b, gb in zip(net.biases, grads.biases):
                if b is not None and gb is not None:
                    b.sub_(lr * gb)
        if progress is not None:
            progress(step + 1, steps)
    tol = report.check.tolerance
    worst = max((h["rel_error"] for h in history), default=0.0)
    report.extra["history"] = history
    report.extra["training"] = {"steps": steps, "lr": lr, "max_rel_error": worst}
    if not worst <= tol:
        report.check.passed = False
        report.check.failures.append(
            f"training: analytic and autograd gradients differ by {worst:.2e} (> {tol:.0e}) "
            "at a recorded step"
        )


def with_setting(spec: Spec, **changes: Any) -> Spec:
    """``spec`` with some fields replaced (re-validated)."""
    return dataclasses.replace(spec, **changes)
