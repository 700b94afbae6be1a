"""``vanish``: gradient flow through a deep chain, measured against mean-field theory, compared
across settings, and tracked over training."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from percgrad.catalog import ACTIVATIONS
from percgrad.engines.meanfield import theory_for
from percgrad.engines.perceptron import Run, build_report, execute
from percgrad.engines.run_tensors import stage
from percgrad.engines.spectrum import add_spectrum, add_spectrum_of_spec
from percgrad.engines.vanish_trials import tried_advice, verdict_of
from percgrad.gradcheck.compare import compare, frobenius
from percgrad.network.passes import analytic_backward, autograd_backward, forward
from percgrad.reports.records import Mismatch, Notice
from percgrad.reports.run import (
    CheckReport,
    CompareInfo,
    FlowSummary,
    HistoryPoint,
    LayerReport,
    Report,
    TheoryReport,
    TrainingReport,
)
from percgrad.runtime.progress import Progress, Tracker
from percgrad.spec.build import variant
from percgrad.spec.run import Spec
from percgrad.theory.flow import depth_scale, trend

HISTORY_POINTS = 40
"""Training steps recorded (evenly spaced, first and last included)."""


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


def analyse(run: Run, report: Report, track: Tracker | None = None) -> None:
    """Add theory, factors, decay, a diagnosis and tried advice to a report of a deep chain."""
    spec = run.spec
    x = run.net.x.double()
    q_in, mean_in = float(x.square().mean()), float(x.mean())
    theory = theory_for(spec, q_in, mean_in=mean_in)
    for k, layer in enumerate(report.layers):
        layer.predicted_factor = theory.chi[k] if k < len(theory.chi) else None
    layers = report.layers
    measured = [layer.measured_factor for layer in layers[:-1]]
    mean_measured = _geometric_mean(measured)
    ratios = [
        m / p for m, p in zip(measured, theory.chi) if m is not None and p > 0 and math.isfinite(m)
    ]
    bounds = [layer.bound_holds for layer in layers if layer.bound_holds is not None]
    verdict = verdict_of(run, report)
    advice, report.warnings = tried_advice(spec, q_in, mean_in, verdict.kind, report.warnings,
                                           track)
    report.summary = FlowSummary(
        grad_decay=_ratio(layers[0].grad_norm, layers[-1].grad_norm),
        delta_decay=_ratio(layers[0].delta_norm, layers[-1].delta_norm),
        measured_mean_factor=mean_measured,
        predicted_mean_factor=theory.mean_chi,
        median_measured_over_predicted=_median(ratios),
        diagnosis=verdict.kind,
        predicted_diagnosis=trend(theory.mean_chi),
        bound_holds=all(bounds) if bounds else None,
        advice=advice,
        notes=_notes(spec, layers),
        first_share=verdict.share,
        verdict_layers=list(verdict.layers),
        delta_trend=trend(mean_measured),
    )
    scale = depth_scale(theory.mean_chi)
    report.theory = TheoryReport(
        sigma_w2=theory.sigma_w2[-1], sigma_b2=theory.sigma_b2[-1],
        sigma_w2_per_layer=list(theory.sigma_w2), q=list(theory.q), chi=list(theory.chi),
        mean_chi=theory.mean_chi, depth_scale=scale.layers, arch=spec.arch,
        critical=scale.critical, growing=scale.growing,
    )
    bad = next((k + 1 for k, layer in enumerate(layers) if layer.bound_holds is False), None)
    if bad is not None:
        report.warnings.append(Notice("bound", layers=(bad,)))


def _notes(spec: Spec, layers: list[LayerReport]) -> list[str]:
    notes = []
    if len(layers) > 1 and all(layer.bound is None for layer in layers):
        skipped = "bound-off" if spec.bound is False else "bound-skipped"
        notes.append(skipped if spec.arch == "plain" else "bound-plain-only")
    unbounded = not ACTIVATIONS[spec.activation].bounded
    measured = any(layer.measured_factor for layer in layers)
    if spec.residual and unbounded and spec.loss == "mse":
        notes.append("residual-unbounded")
    elif (spec.activation in ("relu", "leaky-relu") and spec.loss == "mse" and spec.norm == "none"
          and measured):
        notes.append("relu-mse")
    if min(spec.sizes) < 32:
        notes.append("narrow")
    return notes


class _Stages:
    """A Tracker that also shows the stages around the phases the engine counts: each stage is
    one indivisible step (drawn with the time it takes), set aside while a phase inside it runs
    and taken up again when that phase ends."""

    def __init__(self, track: Tracker | None) -> None:
        self.track = track
        self.open: Progress | None = None
        self.label: str | None = None

    def begin(self, label: str | None, resume: bool = True) -> None:
        """Start the stage ``label`` (None: none); ``resume``: again after a phase inside it."""
        self.end()
        self.label = label if resume else None
        self.open = None if self.track is None or label is None else self.track(label)
        if self.open is not None:
            self.open(0, 1)

    def end(self) -> None:
        if self.open is not None:
            self.open(1, 1)
            self.open = None

    def __call__(self, label: str) -> Progress:
        assert self.track is not None
        self.end()
        inner, outer = self.track(label), self.label

        def update(done: int, total: int) -> None:
            inner(done, total)
            if done >= total and self.label == outer and self.open is None:
                self.begin(outer)

        return update


def run_vanish(spec: Spec, track: Tracker | None = None) -> tuple[Report, Run]:
    """One deep chain: the core run plus theory and diagnosis."""
    stages = _Stages(track)
    tracker = None if track is None else stages
    # the engine counts these two phases layer by layer (a bar each), and the check's inside
    result, timing = execute(spec, tracker,
                             stage(tracker, "drawing the chain; forward and backward passes"))
    report = build_report(result, timing, tracker,
                          stage(tracker, "comparing the gradients, layer by layer"))
    stages.begin("theory and diagnosis")
    analyse(result, report, tracker)
    stages.begin(None)
    return report, result


def compare_runs(specs: list[tuple[str, Spec]], by: str,
                 track: Tracker | None = None) -> Report:
    """The same chain once per setting; one report holding them in ``runs``."""
    reports = []
    runs = None if track is None else track(f"runs by {by}")
    for i, (label, spec) in enumerate(specs):
        if runs is not None:
            runs(i, len(specs))
        report, _ = run_vanish(spec, track)
        report.label = label
        reports.append(report)
    if runs is not None:
        runs(len(specs), len(specs))
    first = reports[0]
    statuses = [r.check.passed for r in reports]
    passed = False if False in statuses else (None if None in statuses else True)
    errors = [r.check.max_rel_error for r in reports if r.check.max_rel_error is not None]
    check = CheckReport(
        method=first.check.method, tolerance=first.check.tolerance,
        max_rel_error=max(errors) if errors else None, passed=passed,
        failures=[dataclasses.replace(f, run=r.label) for r in reports for f in r.check.failures],
        directions=[d for r in reports for d in (r.check.directions or [])] or None,
        kinks=sum(r.check.kinks for r in reports),
        unresolved=sum(r.check.unresolved for r in reports),
    )
    # What the runs share: the compared setting and whatever it changes (an arch changes two).
    settings = {k: v for k, v in first.settings.items()
                if k != by and all(r.settings.get(k) == v for r in reports)}
    return Report(
        command="vanish", version=first.version, settings=settings, device=first.device,
        input=None, target=None, output=None, loss=float("nan"), layers=[], check=check,
        timing={}, compare=CompareInfo(by, [label for label, _ in specs]),
        runs=reports,
        warnings=[dataclasses.replace(w, run=r.label) for r in reports for w in r.warnings],
    )


def train(run: Run, report: Report, steps: int, lr: float,
          progress: Progress | None = None) -> None:
    """Plain SGD on the chain's fixed batch with the analytic gradients, checked against autograd
    at the recorded steps; adds ``history`` to the report."""
    net = run.net.to(run.device, run.net.weights[0].dtype)
    points = min(HISTORY_POINTS, steps + 1)
    recorded = sorted({round(i * steps / max(points - 1, 1)) for i in range(points)})
    info = torch.finfo(net.weights[0].dtype)
    floor = info.tiny / info.eps
    history: list[HistoryPoint] = []
    for step in range(steps + 1):
        fwd = forward(net)
        grads = analytic_backward(net, fwd, run.spec.mistake)
        loss_value = float(fwd.loss)
        finite = math.isfinite(loss_value) and all(
            bool(torch.isfinite(g).all()) for gs in grads.params for g in gs
        )
        if step in recorded or not finite:
            auto, _ = autograd_backward(net)
            rel = max(
                compare(k, [(an, ag, None, sym) for an, ag, sym in
                            zip(grads.params[k], auto.params[k], grads.names[k])], floor).rel_error
                for k in range(net.depth)
            )
            history.append(HistoryPoint(step, loss_value, [frobenius(d) for d in grads.deltas],
                                        [frobenius(g) for g in grads.weights], rel))
        if not finite:
            report.warnings.append(Notice("training-stopped", count=step, value=lr))
            break
        if step == steps:
            break
        with torch.no_grad():
            for p, g in zip(net.parameters(), (g for gs in grads.params for g in gs)):
                p.sub_(lr * g)
        if progress is not None:
            progress(step + 1, steps)
    tol = report.check.tolerance
    worst = max((h.rel_error for h in history), default=0.0)
    report.history = history
    report.training = TrainingReport(steps, lr, worst)
    if not worst <= tol:
        report.check.passed = False
        report.check.failures.append(Mismatch("training", worst, tol, run.spec.dtype))


def with_setting(spec: Spec, **changes: Any) -> Spec:
    """``spec`` with some fields replaced (re-validated)."""
    return dataclasses.replace(spec, **changes)


def _spectrum_stage(track: Tracker | None, runs: int) -> Progress:
    """The progress of the spectra (one step per chain), begun."""
    step: Progress = (lambda done, total: None) if track is None else track(
        "singular values of ∂h_L/∂x")
    step(0, runs)
    return step


def run_chain(spec: Spec, compared: tuple[str, list[str]] | None,
              track: Tracker | None = None, spectrum: bool = False) -> Report:
    """A vanish run: one chain (trained with ``spec.chain.steps``), or one per compared value;
    ``spectrum``: with the singular values of each chain's ∂h_L/∂x (at initialisation)."""
    if compared is not None:
        by, values = compared
        compared_report = compare_runs([(v, variant(spec, by, v)) for v in values], by, track)
        if spectrum:
            step = _spectrum_stage(track, len(values))
            for i, (run, value) in enumerate(zip(compared_report.runs, values)):
                add_spectrum_of_spec(run, variant(spec, by, value))
                step(i + 1, len(values))
        return compared_report
    report, result = run_vanish(spec, track)
    if spectrum:
        step = _spectrum_stage(track, 1)
        add_spectrum(report, result)
        step(1, 1)
    if spec.chain is not None and spec.chain.steps:
        steps = spec.chain.steps
        train(result, report, steps, spec.chain.lr,
              None if track is None else track(f"training {steps} steps"))
    return report
