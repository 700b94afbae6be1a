"""The diagnosis of a user's model from its statistics per module, by the rule of ``vanish``
(theory.flow.judge) over its weight layers, and where values first turn non-finite."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from percgrad.engines.hooks import Record, label
from percgrad.engines.module_stats import Pass
from percgrad.gradcheck.compare import frobenius
from percgrad.reports.user import Diagnosis, ModuleStats
from percgrad.theory.flow import EXPLODING_SHARE, VANISHING_SHARE, judge, trend_share

ROUND_OFF = 16.0
"""c in the round-off floor of ∂E/∂W, c·eps·(|E| + Σ|output|)·√numel: a gradient that is 0 in
exact arithmetic comes out of the float pass as round-off of the terms E sums, each entry a few
eps of their size times the activations it is multiplied by. Measured on a softmax summed (E
constant) the norms sit at 0.001–1.2 × eps·(|E| + Σ|output|)·√numel, inputs up to 100 in size
included; 16 leaves an order of magnitude over that, while a loss that depends on the parameters
has gradients of order 1 or more (with E = Σ output, the last bias's is the batch size)."""

DEAD_BATCH = 16
"""A ReLU unit is called dead only when it is 0 on every sample of a batch of at least this
many: a healthy unit is 0 on all B samples with probability about 2⁻ᴮ (1/4 at B = 2)."""

NORMALISERS = ("Softmax", "LogSoftmax", "Softmin", "Softmax2d")
"""Leaf module types whose output rows sum to 1 (or whose exp does): summed, E is constant."""


def _floor(g: Tensor, size: float) -> float:
    return ROUND_OFF * float(torch.finfo(g.dtype).eps) * size * math.sqrt(g.numel())


def constant_loss(result: Pass) -> tuple[bool, str | None]:
    """Whether every ‖∂E/∂W‖ is at the round-off floor of E (E does not depend on the
    parameters), and why when it can be told: ``softmax-sum`` when the loss sums an output
    made by a softmax (the last leaf module run) or whose rows sum to 1."""
    got = [g for g in result.grads.values() if g is not None and g.is_floating_point()]
    size = abs(result.loss) + result.scale
    if not got or not math.isfinite(size):
        return False, None
    norms = [frobenius(g) for g in got]
    if not all(math.isfinite(n) and n <= _floor(g, size) for n, g in zip(norms, got)):
        return False, None
    leaves = [r for r in result.records.values() if not any(True for _ in r.module.children())]
    last = max(leaves, key=lambda r: r.order) if leaves else None
    softmax = last is not None and type(last.module).__name__ in NORMALISERS
    cause = ("softmax-sum" if result.loss_kind == "sum" and (softmax or result.normalised)
             else None)
    # every gradient exactly 0 is the dead or vacuous case, unless the cause is known
    return (any(n > 0 for n in norms) or cause is not None), cause


def _zero_weight(stats: list[ModuleStats], by_name: dict[str, Record]) -> ModuleStats | None:
    """The module nearest the output (in backward order) with a trainable weight that is 0
    exactly, when every module with a gradient before it (in forward order) got ∂E/∂W = 0."""
    position = {s.name: k for k, s in enumerate(stats)}
    ran = sorted((s for s in stats if s.name in by_name and by_name[s.name].back_order is not None),
                 key=lambda s: by_name[s.name].back_order or 0)
    for s in ran:
        w = getattr(by_name[s.name].module, "weight", None)
        if not (isinstance(w, torch.nn.Parameter) and w.requires_grad and w.numel()
                and not bool(w.detach().any())):
            continue
        before = [b for b in stats[:position[s.name]] if b.grad_norm is not None]
        if before and all(b.grad_norm == 0.0 for b in before):
            return s
    return None


def diagnose_model(stats: list[ModuleStats], result: Pass, batch: int | None = None,
                   precise: Pass | None = None) -> Diagnosis:
    """The rule of ``vanish`` (theory.flow.judge) over the weight layers (rows holding a
    parameter of 2 or more dimensions that got a gradient, containers' own included: frozen and
    unused parameters are left out), from the table's ‖∂E/∂W‖ in forward order: non-finite
    first, then dead, then the first layer's share of the last's gradient along the robust trend
    (theory.flow.trend_share), naming the layers off it.
    A weight layer is dead when the ReLU after it (before the next weight layer) is 0 on every
    unit for every sample, or its ∂E/∂output is exactly 0. Non-finite values are located in
    any module, in forward and in backward order. Before the flow: constant-loss when every
    ‖∂E/∂W‖ is at the round-off floor of E (``constant_loss``), then zero-weight when an
    all-zero weight blocks every gradient upstream (``flow`` keeps the rule's verdict)."""
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
    hooked = [s for s in layers if s.output_grad_norm is not None]  # containers have no output
    for a, b in itertools.pairwise(hooked):
        ga, gb = a.output_grad_norm, b.output_grad_norm
        if ga is not None and gb is not None and gb > 0 and math.isfinite(ga) and math.isfinite(gb):
            a.factor = (ga / gb) ** 2
    factors = [s.factor for s in hooked[:-1] if s.factor is not None and s.factor > 0]
    mean = math.exp(sum(math.log(f) for f in factors) / len(factors)) if factors else None
    sure = batch is None or batch >= DEAD_BATCH
    dead = [(sure and any(m.dead == 1.0 for m in span)) or span[0].output_grad_norm == 0.0
            for span in spans]
    finite = [all(m.finite_forward and m.finite_backward for m in span) for span in spans]
    norms = [s.grad_norm if s.grad_norm is not None else math.nan for s in layers]
    first_bad = next((k + 1 for k, ok in enumerate(finite) if not ok), None)
    verdict = judge(norms, dead, first_bad, robust=True)
    line = trend_share(norms)
    nonfinite = first_fwd is not None or first_back is not None or not math.isfinite(result.loss)
    concerned: list[str] = []
    if verdict.kind == "dead":
        concerned = [layers[k - 1].name for k in verdict.layers]
    elif verdict.kind in ("vanishing", "exploding") and line.fitted:
        # the layers whose place on the trend is past the threshold, the last's taken as 1
        last = line.fitted[-1]
        concerned = [s.name for s, g in zip(layers[:-1], line.fitted[:-1])
                     if (g / last < VANISHING_SHARE if verdict.kind == "vanishing"
                         else g / last > EXPLODING_SHARE)]
    kinds = ["non-finite"] if nonfinite else (
        [verdict.kind] if verdict.kind in ("vanishing", "exploding", "dead") else [])
    cause: str | None = None
    dead_names: list[str] = []
    module: str | None = None
    module_type: str | None = None
    # a bfloat16/float16 model's floor is judged on its float64 pass (``precise``)
    constant, why = (False, None) if nonfinite else constant_loss(precise or result)
    zero = None if nonfinite or constant else _zero_weight(stats, by_name)
    if constant:
        kinds, cause, concerned = ["constant-loss"], why, []
    elif zero is not None:
        module, module_type = zero.name, zero.type
        # DEAD from a ReLU only when one is 0 on every unit: the zero weight is the cause
        dead_names = relu_dead_names(spans) if sure else []
        kinds = ["zero-weight"] + (["dead"] if dead_names else [])
        concerned = [s.name for s in stats[:stats.index(zero)] if s.grad_norm == 0.0]
    off = [layers[k].name for k in line.breaks]
    named = {*(s.name for s in layers), *concerned, *dead_names, *off, first_fwd, first_back}
    return Diagnosis(
        kinds=kinds, flow="non-finite" if nonfinite else verdict.kind, share=verdict.share,
        vanishing=VANISHING_SHARE, exploding=EXPLODING_SHARE, mean_factor=mean,
        weight_layers=[s.name for s in layers], concerned=concerned,
        dead_layers=(dead_names if zero is not None else
                     concerned if verdict.kind == "dead" and not constant else []),
        first_nonfinite_forward=first_fwd, first_nonfinite_backward=first_back,
        backward_from_loss=from_loss, forward_input_nonfinite=forward_input,
        cause=cause, module=module, module_type=module_type,
        end_share=_ends(norms), off_trend=off,
        types={s.name: s.type for s in stats if s.name in named}, batch=batch,
    )


def _ends(norms: list[float]) -> float | None:
    """The first weight layer's ‖∂E/∂W‖ over the last's, as measured."""
    if len(norms) < 2 or not (math.isfinite(norms[0]) and math.isfinite(norms[-1])) or norms[-1] <= 0:
        return None
    return norms[0] / norms[-1]


def relu_dead_names(spans: list[list[ModuleStats]]) -> list[str]:
    """The weight layers followed by a ReLU-type module that is 0 on every unit."""
    return [span[0].name for span in spans if any(m.dead == 1.0 for m in span)]
