"""The diagnosis of a user's model from its statistics per module, by the rule of ``vanish``
(theory.flow.judge) over its weight layers, and where values first turn non-finite."""

from __future__ import annotations

import itertools
import math

from percgrad.engines.hooks import label
from percgrad.engines.module_stats import Pass
from percgrad.reports.user import Diagnosis, ModuleStats
from percgrad.theory.flow import EXPLODING_SHARE, VANISHING_SHARE, judge


def diagnose_model(stats: list[ModuleStats], result: Pass) -> Diagnosis:
    """The rule of ``vanish`` (theory.flow.judge) over the weight layers (leaf modules that ran
    with a weight of 2 or more dimensions that got a gradient: frozen and unused parameters are
    left out), from the table's ‖∂E/∂W‖: non-finite first, then dead, then the first layer's
    share of the last's gradient.
    A weight layer is dead when the ReLU after it (before the next weight layer) is 0 on every
    unit for every sample, or its ∂E/∂output is exactly 0. Non-finite values are located in
    any module, in forward and in backward order."""
    by_name = {label(r.name): r for r in result.records.values()}
    first_fwd = next((s.name for s in stats if not s.finite_forward), None)
    forward_input = bool(first_fwd is not None and not by_name[first_fwd].in_finite)
    def back_order(s: ModuleStats) -> int | None:
        rec = by_name.get(s.name)
        return None if rec is None else rec.back_order

    backward = sorted((s for s in stats if back_order(s) is not None),
                      key=lambda s: back_order(s) or 0)
    first_back = next((s.name for s in backward if not s.finite_backward), None)
    if first_back is None:
        first_back = next((s.name for s in stats if not s.finite_backward), None)
    from_loss = bool(backward and not by_name[backward[0].name].grad_out_finite)
    layers = [s for s in stats if s.weight_layer]
    spans: list[list[ModuleStats]] = []
    for s in stats:
        if s.weight_layer:
            spans.append([s])
        elif spans:
            spans[-1].append(s)
    for a, b in itertools.pairwise(layers):
        ga, gb = a.output_grad_norm, b.output_grad_norm
        if ga is not None and gb is not None and gb > 0 and math.isfinite(ga) and math.isfinite(gb):
            a.factor = (ga / gb) ** 2
    factors = [s.factor for s in layers[:-1] if s.factor is not None and s.factor > 0]
    mean = math.exp(sum(math.log(f) for f in factors) / len(factors)) if factors else None
    dead = [any(m.dead == 1.0 for m in span) or span[0].output_grad_norm == 0.0 for span in spans]
    finite = [all(m.finite_forward and m.finite_backward for m in span) for span in spans]
    norms = [s.grad_norm if s.grad_norm is not None else math.nan for s in layers]
    first_bad = next((k + 1 for k, ok in enumerate(finite) if not ok), None)
    verdict = judge(norms, dead, first_bad)
    nonfinite = first_fwd is not None or first_back is not None or not math.isfinite(result.loss)
    concerned: list[str] = []
    if verdict.kind == "dead":
        concerned = [layers[k - 1].name for k in verdict.layers]
    elif verdict.kind in ("vanishing", "exploding") and norms and norms[-1] > 0:
        last = norms[-1]
        concerned = [s.name for s, g in zip(layers[:-1], norms[:-1])
                     if (g / last < VANISHING_SHARE if verdict.kind == "vanishing"
                         else g / last > EXPLODING_SHARE)]
    kinds = ["non-finite"] if nonfinite else (
        [verdict.kind] if verdict.kind in ("vanishing", "exploding", "dead") else [])
    return Diagnosis(
        kinds=kinds, flow="non-finite" if nonfinite else verdict.kind, share=verdict.share,
        vanishing=VANISHING_SHARE, exploding=EXPLODING_SHARE, mean_factor=mean,
        weight_layers=[s.name for s in layers], concerned=concerned,
        dead_layers=concerned if verdict.kind == "dead" else [],
        first_nonfinite_forward=first_fwd, first_nonfinite_backward=first_back,
        backward_from_loss=from_loss, forward_input_nonfinite=forward_input,
    )
