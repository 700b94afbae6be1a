"""What ``inspect`` and ``check`` found, in English: the one place their records become sentences
(tables, the JSON document and the Python API all read them here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from percgrad.reports.numbers import num

if TYPE_CHECKING:
    from percgrad.reports.user import Diagnosis, Entry, GradCheck, GroupCheck, Localisation, Note

NAMES_SHOWN = 6
"""Module names listed before the rest are elided."""


def listed(names: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    head = ", ".join(names[:shown - 1])
    return f"{head}, …, {names[-1]} ({len(names)})"


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(s) for s in shape) if len(shape) else "scalar"


def percent(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.0%}" if v == 0 or v >= 0.01 else f"{v:.1%}"


def entry_sentence(entry: Entry, fast: bool = False) -> str:
    """The worst entry: both values and its relative error."""
    what = f"along random direction {entry.name}, uᵀ∇" if fast else entry.name
    return (f"{what}: autograd {entry.analytic:.6g} vs numeric {entry.numeric:.6g} "
            f"(relative error {entry.rel_error:.2g})")


def ladder_sentence(entry: Entry) -> str:
    """How the difference kept for the worst entry was settled."""
    if entry.settled is None:
        return "a kink: the one-sided differences disagree at every step (left out)"
    step = entry.ladder[entry.settled]
    if entry.agreed:
        return (f"at ε = {step.eps:.0e} the difference agreed with autograd at once, so no other "
                "step was needed")
    if entry.settled + 1 < len(entry.ladder):
        other = entry.ladder[entry.settled + 1]
        gap = abs(step.value - other.value)
        return (f"settled where ε = {step.eps:.0e} and {other.eps:.0e} agree (to {gap:.1e}): "
                "their mean is kept, and the difference can be trusted")
    return f"kept at ε = {step.eps:.0e}"


def group_label(group: GroupCheck) -> str:
    return group.name if group.output is None else f"{group.name} (output {group.output})"


def check_sentence(check: GradCheck) -> str:
    """The verdict of a check in one sentence."""
    if check.reason == "off":
        return "the gradient check is off (--check off)"
    if check.reason == "nondeterministic":
        return (f"not deterministic: two evaluations at the same point gave {check.detail}, so "
                "finite differences cannot judge its gradient; the check does not apply (make it "
                "deterministic: eval mode, no random ops, seeded)")
    if check.reason == "nonfinite":
        return (f"the value at the point checked is not finite ({check.detail}), so the check does "
                "not apply")
    if check.reason == "float64-unavailable":
        return (f"the model cannot run in float64 ({check.detail}); the check, which needs float64 "
                "differences, does not apply")
    if check.reason == "no-parameters":
        return "there are no parameters that require a gradient: nothing to check"
    if check.reason == "empty":
        return (f"there is nothing to compare: {check.detail}, so the check does not apply (it "
                "passes nothing)")
    if check.reason == "constant-loss":
        return ("the loss is (nearly) constant in the parameters, so autograd and the finite "
                "differences compare rounding noise: the check is vacuous (see the diagnosis)")
    if check.reason == "vacuous":
        return ("every gradient is exactly 0, autograd's and the finite differences' alike, so the "
                f"check is vacuous: {check.detail or 'nothing flows back to what is checked'}")
    fast = check.method == "fast"
    worst = check.worst
    left = check.kinks + check.unsettled
    left_text = f" ({left} difference(s) left out: {check.kinks} at kinks, {check.unsettled} " \
                "unsettled, where autograd's value is still within what the differences allow)" \
        if left else ""
    if check.passed is None:
        return "no finite difference could be trusted, so the check does not apply" + left_text
    if check.passed:
        judged = sum(g.judged for g in check.groups)
        what = "random direction" if fast else "entry"
        where = (f" along every {what}" if fast else f" at every {what}") if not left else \
            f" at the {judged} {what}(s) it could judge, of {judged + left}"
        return (f"autograd matches the float64 central differences{where}: max relative "
                f"error {num(check.max_rel_error, 2)} ≤ {num(check.tolerance, 1)}{left_text}")
    assert worst is not None and worst.worst is not None
    text = (f"{group_label(worst)} disagrees with the finite differences "
            f"{'' if fast else 'most at '}{entry_sentence(worst.worst, fast)}, above the "
            f"tolerance {num(check.tolerance, 1)}")
    if worst.float64_rel_error is not None:
        text += (f". In float64 autograd matches to {worst.float64_rel_error:.1e}: the gap is "
                 "float32 round-off, not a wrong derivative (try --dtype float64)")
    return text + left_text


def note_sentence(note: Note) -> str:
    """One note as a sentence."""
    kind = note.kind
    if kind == "eval-copy":
        return ("the gradient check ran on a float64 copy of the model in eval mode (dropout "
                "off, batch norm on its running statistics); the table is from the model in the "
                "mode shown above")
    if kind == "random-targets":
        return "no targets were given: they are random (seeded), of the output's shape"
    if kind == "first-output":
        return note.text or "the model returns several tensors: the loss is taken of the first (or logits)"
    if kind == "batch-one":
        return ("with a batch of one sample about half of the ReLU units are 0 by chance: the "
                "dead share needs a larger batch to mean much")
    if kind == "not-called":
        return f"not called in the forward pass, so not shown: {listed(note.modules)}"
    if kind == "unused":
        return ("these parameters require a gradient but got none in the backward pass (unused "
                f"by the loss), so they are left out of the diagnosis: {listed(note.modules)}")
    if kind == "training-stopped":
        return (f"training stopped at step {note.text}: the loss or a gradient is no longer "
                f"finite (try a smaller --lr than {note.value:g})")
    return note.text or kind


def diagnosis_sentences(d: Diagnosis) -> list[str]:
    """The diagnosis: one sentence per finding (or why it is healthy)."""
    rule = (f"the rule of vanish: the first weight layer's ‖∂E/∂W‖ below {num(d.vanishing)} × "
            f"the last's is vanishing, above {num(d.exploding)} × exploding")
    layers = d.weight_layers
    if "non-finite" in d.kinds:
        out = []
        if d.first_nonfinite_forward is not None:
            where = (" (its input already was: the values come from code outside the leaf "
                     "modules)" if d.forward_input_nonfinite else "")
            out.append(f"NON-FINITE: the forward pass first produces non-finite values (NaN or "
                       f"∞) in {d.first_nonfinite_forward}{where}; every module after it "
                       "inherits them.")
        if d.first_nonfinite_backward is not None:
            start = (" — from the start of the backward pass (the loss's gradient)"
                     if d.backward_from_loss else "")
            out.append(f"In backward order the first module with a non-finite gradient (∂E/∂W, "
                       f"∂E/∂output or ∂E/∂input) is {d.first_nonfinite_backward}{start}.")
        return out or ["NON-FINITE: the loss is not finite."]
    if "constant-loss" in d.kinds:
        why = (" The output is a softmax-normalised one (every row sums to 1) and the loss sums "
               "it, so E is the number of rows whatever the parameters."
               if d.cause == "softmax-sum" else "")
        return [f"CONSTANT LOSS: E is (nearly) constant in the parameters: every ‖∂E/∂W‖ is at "
                f"the round-off floor of E, so the gradients are rounding noise, not a signal "
                f"(the flow verdict and the gradient check say nothing).{why} Use a loss that "
                "depends on them: --loss cross-entropy with --targets (on the logits, before the "
                "softmax), or --loss mse."]
    if "zero-weight" in d.kinds:
        out = [f"ZERO WEIGHT: {d.module} ({d.module_type}) has an all-zero weight: nothing flows "
               "back past it; every module before it gets no gradient"
               + (f" ({listed(d.concerned)})" if d.concerned else "")
               + ". Initialise it to non-zero values (a zero-initialised head or norm γ = 0 "
               "blocks the gradient at the first step)."]
        if "dead" in d.kinds:
            out.append(f"DEAD: every unit of the ReLU after {listed(d.dead_layers)} is 0 for "
                       "every sample of the batch.")
        return out
    if d.flow == "dead":
        return [f"DEAD: {listed(d.dead_layers)} get(s) no gradient: every unit of the ReLU after "
                "it is 0 for every sample of the batch (or its ∂E/∂output is exactly 0) — "
                + rule + "."]
    if d.flow in ("vanishing", "exploding") and d.share is not None and len(layers) >= 2:
        word = "below" if d.flow == "vanishing" else "above"
        edge = d.vanishing if d.flow == "vanishing" else d.exploding
        effect = ("they barely learn while the last ones do" if d.flow == "vanishing" else
                  "a step that suits the last layer is far too large for them")
        return [f"{d.flow.upper()}: {layers[0]}'s ‖∂E/∂W‖ is {num(d.share, 2)} × {layers[-1]}'s. "
                f"The weight layers {word} {num(edge)} × the last's gradient: "
                f"{listed(d.concerned)}; {effect} ({rule})."]
    if d.flow == "undetermined":
        return [f"HEALTHY as far as it can be told: every value is finite and no ReLU layer is "
                f"dead; the flow needs two weight layers with a gradient ({len(layers)} here)."]
    return [f"HEALTHY: {layers[0]}'s ‖∂E/∂W‖ is {num(d.share, 2)} × {layers[-1]}'s, between "
            f"{num(d.vanishing)} and {num(d.exploding)} ({rule}); no ReLU layer is dead; every "
            "value is finite."]


def localisation_sentence(loc: Localisation) -> str:
    """Where the failed check comes from."""
    if loc.module is None or loc.check is None:
        return (f"no module disagrees on its own ({listed(loc.checked)} checked on their recorded "
                "inputs): the mismatch comes from how they are combined, or from the loss")
    worst = loc.check.worst
    detail = ""
    if worst is not None and worst.worst is not None:
        detail = (f"; worst {entry_sentence(worst.worst, loc.check.method == 'fast')}")
    passed = [n for n in loc.checked if n != loc.module]
    if loc.container:
        return (f"{loc.module} ({loc.type}) is the first module whose own backward disagrees with "
                f"its finite differences, though each of its submodules passes on its own: the "
                f"mistake is in its own forward code{detail}")
    others = f"; {listed(passed)} pass on their own" if passed else ""
    return (f"{loc.module} ({loc.type}) is the first module, in forward order, whose own backward "
            f"disagrees with its finite differences, checked on its recorded input{detail}"
            f"{others}")
