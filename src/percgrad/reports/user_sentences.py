"""What ``inspect`` and ``check`` found, in English: the one place their records become sentences
(tables, the JSON document and the Python API all read them here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from percgrad.reports.numbers import num
from percgrad.theory.flow import OFF_TREND

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
    if check.reason == "interrupted":
        return ("Ctrl-C before the gradient check ended: nothing was judged; the "
                "table and the diagnosis above are complete (they come from the first pass)")
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
        if check.zero:
            left_text += (f"; {len(check.zero)} of the {len(check.groups)} tensors are exactly 0 "
                          f"on both sides (nothing flows back to them), which any backward "
                          f"matches, so they test nothing: {listed(check.zero)}")
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
    if kind == "kinks-nudged":
        found, left = int(note.value or 0), int(note.text or 0)
        text = (f"{found:,} input(s) of ReLU-like functions sat exactly on the kink at 0, where "
                "the derivative is only a convention no finite difference can confirm")
        if note.modules:
            text += (": the check ran with the parameters that are exactly 0 moved by about 1e-6 "
                     f"({listed(note.modules)})")
            return text + (", which takes them all off the kink" if not left else
                           f"; {left:,} still sit on it (their zeros do not come from a "
                           "parameter)")
        return text + "; no parameter is exactly 0, so the check ran there"
    if kind == "class-axis":
        axis = int(note.value or 0)
        return (f"cross-entropy takes the classes on axis {axis} of the output {note.text}"
                + (" (its last: a language model's (N, T, V) logits, targets (N, T))"
                   if axis != 1 else " (PyTorch's (N, C, …))") + "; --class-dim picks another")
    if kind == "small-batch":
        b = int(note.value or 1)
        chance = "one half" if b == 1 else f"about 1/{2 ** b:,}"
        return (f"the dead shares are from a batch of {b} sample(s): a healthy ReLU unit is 0 on "
                f"{'it' if b == 1 else f'all {b}'} with probability {chance}, so no layer is "
                "called dead on ReLU shares below 16 samples; give a larger batch (the first "
                "number of --input-shape, or more rows of --data)")
    if kind == "not-called":
        return f"not called in the forward pass, so not shown: {listed(note.modules)}"
    if kind == "unused":
        return ("these parameters require a gradient but got none in the backward pass (unused "
                f"by the loss), so they are left out of the diagnosis: {listed(note.modules)}")
    if kind == "training-interrupted":
        return (f"training was interrupted (Ctrl-C) after step {note.text}: the steps so far are "
                "shown, and the gradient check was not run")
    if kind == "training-stopped":
        return (f"training stopped at step {note.text}: the loss or a gradient is no longer "
                f"finite (try a smaller --lr than {note.value:g})")
    return note.text or kind


def module_name(name: str | None, type_name: str | None) -> str:
    """A module as sentences name it: its path and type (``3 (LogShift)``); the root is ``the
    model itself``."""
    path = "the model itself" if name in (None, "(model)", "") else str(name)
    return f"{path} ({type_name})" if type_name else path


def _names(d: Diagnosis, names: Sequence[str]) -> str:
    """Modules of the diagnosis with their type: each with its own, or the one they share once
    (``the Linear layers fc1, fc2 (2)``)."""
    types = {d.types.get(n) for n in names}
    if len(names) > 1 and len(types) == 1 and None not in types:
        return f"the {types.pop()} layers {listed(names)}"
    return listed([module_name(n, d.types.get(n)) for n in names])


def diagnosis_sentences(d: Diagnosis) -> list[str]:
    """The diagnosis: one sentence per finding (or why it is healthy)."""
    rule = (f"the rule of vanish over the trend of every weight layer's ‖∂E/∂W‖ in forward "
            f"order: the first's below {num(d.vanishing)} × the last's is vanishing, above "
            f"{num(d.exploding)} × exploding")
    layers = d.weight_layers
    if "non-finite" in d.kinds:
        out = []
        if d.first_nonfinite_forward is not None:
            where = (" (its input already was: the values come from code outside the leaf "
                     "modules)" if d.forward_input_nonfinite else "")
            out.append(f"NON-FINITE: the forward pass first produces non-finite values (NaN or "
                       f"∞) in {_names(d, [d.first_nonfinite_forward])}{where}; every module "
                       "after it inherits them.")
        if d.first_nonfinite_backward is not None:
            start = (" — from the start of the backward pass (the loss's gradient)"
                     if d.backward_from_loss else "")
            out.append(f"In backward order the first module with a non-finite gradient (∂E/∂W, "
                       f"∂E/∂output or ∂E/∂input) is {_names(d, [d.first_nonfinite_backward])}"
                       f"{start}.")
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
    batch = f" of {d.batch}" if d.batch is not None else ""
    if "zero-weight" in d.kinds:
        out = [f"ZERO WEIGHT: {module_name(d.module, d.module_type)} has an all-zero weight: "
               "nothing flows back past it; every module before it gets no gradient"
               + (f" ({_names(d, d.concerned)})" if d.concerned else "")
               + ". Initialise it to non-zero values (a zero-initialised head or norm γ = 0 "
               "blocks the gradient at the first step)."]
        if "dead" in d.kinds:
            out.append(f"DEAD: every unit of the ReLU after {_names(d, d.dead_layers)} is 0 for "
                       f"every sample of the batch{batch}.")
        return out
    off = (f" Off the trend by more than {num(OFF_TREND)}× (not deciding the verdict): "
           f"{_names(d, d.off_trend)}." if d.off_trend else "")
    if d.flow == "dead":
        return [f"DEAD: {_names(d, d.dead_layers)} get(s) no gradient: every unit of the ReLU "
                f"after it is 0 for every sample of the batch{batch} (or its ∂E/∂output is "
                "exactly 0)."]
    ends = (f" (measured, the first's is {num(d.end_share, 2)} × the last's)"
            if d.end_share is not None and len(layers) > 2 else "")
    if d.borderline:
        off += (" The share is within a factor of 2 of its threshold: another batch, or other "
                "random targets, may well give the other verdict.")
    if d.flow in ("vanishing", "exploding") and d.share is not None and len(layers) >= 2:
        word = "below" if d.flow == "vanishing" else "above"
        edge = d.vanishing if d.flow == "vanishing" else d.exploding
        effect = ("they barely learn while the last ones do" if d.flow == "vanishing" else
                  "a step that suits the last layer is far too large for them")
        return [f"{d.flow.upper()}: along the trend of the {len(layers)} weight layers, "
                f"{_names(d, layers[:1])}'s ‖∂E/∂W‖ is {num(d.share, 2)} × "
                f"{_names(d, layers[-1:])}'s{ends}. On the trend {word} {num(edge)} × the "
                f"last's: {_names(d, d.concerned)}; {effect} ({rule}).{off}"]
    if d.flow == "undetermined":
        some = (f"{len(layers)} weight layer(s) here, fewer than two of them with one"
                if len(layers) >= 2 else f"{len(layers)} weight layer(s) here")
        return [f"HEALTHY as far as it can be told: every value is finite and no ReLU layer is "
                f"dead; the flow needs two weight layers with a finite, non-zero ‖∂E/∂W‖ "
                f"({some})."]
    return [f"HEALTHY: along the trend of the {len(layers)} weight layers, "
            f"{_names(d, layers[:1])}'s ‖∂E/∂W‖ is {num(d.share, 2)} × {_names(d, layers[-1:])}'s"
            f"{ends}, between {num(d.vanishing)} and {num(d.exploding)} ({rule}); no ReLU layer "
            f"is dead; every value is finite.{off}"]


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
        return (f"{module_name(loc.module, loc.type)} is the first module whose own backward disagrees with "
                f"its finite differences, though each of its submodules passes on its own: the "
                f"mistake is in its own forward code{detail}")
    others = f"; {listed(passed)} pass on their own" if passed else ""
    return (f"{module_name(loc.module, loc.type)} is the first module, in forward order, whose own backward "
            f"disagrees with its finite differences, checked on its recorded input{detail}"
            f"{others}")
