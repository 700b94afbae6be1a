"""What ``watch`` found over a training run, in English: one sentence per verdict, for where the
first non-finite value came from, for the loss, and the summary of a healthy run (the views, the
JSON document's readers and the Python API all read them here)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from percgrad.reports.numbers import num
from percgrad.reports.user_sentences import listed, module_name, percent
from percgrad.reports.watch import UPDATE_USUAL, NonFinite, WatchReport, WatchVerdict

USUAL_RATIO = f"{UPDATE_USUAL:.0e}".replace("e-0", "e-")
"""The usual update ratio ‖ΔW‖/‖W‖ of a step, as text (a rule of thumb, not a measurement)."""

TITLES = {
    "vanishing": "VANISHING", "exploding": "EXPLODING", "dead": "DEAD",
    "update-high": "UPDATE RATIO too high", "update-low": "UPDATE RATIO too low",
    "non-finite": "NON-FINITE",
}
"""Each verdict kind's leading words."""


def finite(v: float | None) -> bool:
    """A recorded value that is a number (not None, NaN or ∞)."""
    return v is not None and math.isfinite(v)


def types(report: WatchReport) -> dict[str, str]:
    """Every track's name → its module type (parameters' owners and activations)."""
    out = {a.name: a.type for a in report.activations}
    out.update({m.name: m.type for m in report.modules})
    return out


def names_text(report: WatchReport, names: Sequence[str]) -> str:
    """Modules with their type: each with its own, or the one they share once
    (``the Linear layers 0, 2``)."""
    kinds = types(report)
    shared = {kinds.get(n) for n in names}
    if len(names) > 1 and len(shared) == 1 and None not in shared:
        return f"the {shared.pop()} layers {listed(names)}"
    return listed([module_name(n, kinds.get(n)) for n in names])


def verdict_title(v: WatchVerdict) -> str:
    """``VANISHING from step 0``, ``NON-FINITE at step 23`` (the verdict's leading words)."""
    at = "at" if v.kind in ("non-finite", "dead") else "from"
    return f"{TITLES.get(v.kind, v.kind.upper())} {at} step {v.step}"


def every_text(every: int) -> str:
    """``every step``, ``every 2nd step``, ``every 10th step``."""
    if every <= 1:
        return "every step"
    tail = "th" if every % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(every % 10, "th")
    return f"every {every}{tail} step"


def limit(v: float) -> str:
    """A threshold as written in the rules (0.1, 1e-05)."""
    return f"{v:g}"


def _flow_sentence(report: WatchReport, v: WatchVerdict) -> str:
    """Vanishing or exploding: the trend's first layer against its last, at the verdict's step."""
    k = report.steps.index(v.step) if v.step in report.steps else None
    layers = [m.name for m in report.modules if m.weight_layer and (
        k is None or (k < len(m.grad_norm) and m.grad_norm[k] is not None))]
    vanishing = v.kind == "vanishing"
    one = len(v.modules) == 1
    word, effect = (("below", f"{'it barely learns' if one else 'they barely learn'} while the "
                              "last ones do") if vanishing else
                    ("above", "a step that suits the last layer is far too large for "
                              f"{'it' if one else 'them'}"))
    through = f" through step {v.through}" if v.through is not None else ""
    text = (f"{verdict_title(v)}{through}: along the trend of the {len(layers)} weight layers"
            f" at step {v.step}")
    if len(layers) >= 2 and v.value is not None:
        text += (f", {names_text(report, layers[:1])}'s ‖∂E/∂W‖ is {num(v.value, 2)} × "
                 f"{names_text(report, layers[-1:])}'s")
    if v.threshold is not None:
        text += f" ({word} {limit(v.threshold)})"
        if v.modules:
            text += (f"; concerned ({word} {limit(v.threshold)} × the last's on the trend): "
                     f"{names_text(report, v.modules)}; {effect}")
    elif v.modules:
        text += f"; concerned: {names_text(report, v.modules)}; {effect}"
    return text + "."


def _first_share(report: WatchReport, name: str) -> int | None:
    """The watched step of an activation track's first recorded share."""
    track = next((a for a in report.activations if a.name == name), None)
    if track is None:
        return None
    k = next((i for i, s in enumerate(track.share) if s is not None), None)
    return None if k is None or k >= len(report.steps) else report.steps[k]


def _dead_sentence(report: WatchReport, v: WatchVerdict) -> str:
    text = (f"{verdict_title(v)}: {names_text(report, v.modules)} has {percent(v.value)} of its "
            "units 0 for every sample of the batch")
    if v.before is not None:
        first = _first_share(report, v.modules[0]) if v.modules else None
        at = f" at step {first}" if first is not None else " at the first watched step"
        text += f", up from {percent(v.before)}{at}"
    if v.threshold is not None:
        text += f" (a layer is called dying from {percent(v.threshold)})"
    return text + ": those units get no gradient and no longer learn."


def _update_sentence(report: WatchReport, v: WatchVerdict) -> str:
    high = v.kind == "update-high"
    side = "above" if high else "below"
    far = "far above" if high else "far below"
    what = "too high" if high else "too low"
    them = "them" if len(v.modules) > 1 else "it"
    text = (f"{verdict_title(v)}: ‖ΔW‖/‖W‖ median {num(v.value, 3)} for "
            f"{names_text(report, v.modules)}")
    if v.threshold is not None:
        text += f", {side} {limit(v.threshold)} on consecutive watched steps"
    if v.cause == "no-gradient":
        who = "they" if them == "them" else "it"
        return (text + f" ({far} the usual ~{USUAL_RATIO}): {who} got no gradient at all on "
                "those steps (dead units, or nothing flows back), so no learning rate would "
                "move them.")
    if v.cause == "small-gradient":
        return (text + f" ({far} the usual ~{USUAL_RATIO}): {'their' if them == 'them' else 'its'}"
                " ‖∂E/∂W‖ fell below a millionth of where it started, so the steps barely move "
                f"{them}; the gradient, not the learning rate, is what is missing.")
    whose = "their" if them == "them" else "its"
    return (text + f" ({far} the usual ~{USUAL_RATIO}: the learning rate is {what} for "
            f"{them}{'' if high else f', or {whose} gradient too small'}).")


def nonfinite_sentence(nf: NonFinite) -> str:
    """Where the first non-finite value came from: the step, the pass, the op, the module and
    the user's line."""
    head = f"NON-FINITE at step {nf.step}: "
    value = f" ({nf.value})" if nf.value else ""
    where = f" in module {module_name(nf.module, nf.module_type)}" if nf.module else ""
    line = ""
    if nf.source:
        line = f", {nf.source}" + (f": `{nf.code}`" if nf.code else "")
    if nf.phase == "parameters":
        return (head + f"the weights of {module_name(nf.module, nf.module_type)} already were not "
                "finite before the optimizer's step (an earlier step, or code outside the "
                "training loop, wrote them).")
    if nf.phase == "loss":
        chain = (f" (its autograd chain, outermost first: {nf.op})" if nf.op else "")
        loss = f"the loss is {nf.value}" if nf.value else "the loss's gradient is not finite"
        return (head + f"{loss} while the watched models' forward and backward make only finite "
                "values on that step's input: it was made outside the models, in the loss"
                f"{chain}.")
    if nf.op is None:
        return (head + "a gradient is not finite; the op that made it was not located (the "
                "step's forward could not be re-run).")
    if nf.phase == "forward":
        return (head + f"the first non-finite value{value} was made in the forward pass by "
                f"{nf.op}{where}{line}.")
    forward = f", whose forward is {nf.source}" + (f": `{nf.code}`" if nf.code else "") \
        if nf.source else ""
    return (head + f"the first non-finite value{value} was made in the backward pass by "
            f"{nf.op}{where}{forward} (the forward pass was finite).")


def verdict_sentence(report: WatchReport, v: WatchVerdict) -> str:
    """One verdict in one sentence, naming its evidence and its modules with their type."""
    if v.kind in ("vanishing", "exploding"):
        return _flow_sentence(report, v)
    if v.kind == "dead":
        return _dead_sentence(report, v)
    if v.kind in ("update-high", "update-low"):
        return _update_sentence(report, v)
    if v.kind == "non-finite":
        if report.nonfinite is not None and report.nonfinite.step == v.step:
            return nonfinite_sentence(report.nonfinite)
        where = f" in {names_text(report, v.modules)}" if v.modules else ""
        return f"{verdict_title(v)}: a value is NaN or ∞{where}."
    return f"{verdict_title(v)}: {names_text(report, v.modules)}."


def healthy_sentence(report: WatchReport) -> str:
    """The summary of a run without verdicts."""
    n = len(report.steps)
    if n == 0:
        return ("NOTHING WATCHED: no optimizer step of a watched model was recorded (no "
                "optimizer stepped their parameters).")
    of = f"{every_text(report.every)} of {report.total_steps}"
    dead = " no ReLU layer died," if any(a.kind == "dead" for a in report.activations) else ""
    layers = sum(m.weight_layer for m in report.modules)
    flow = ("the flow over the weight layers never turned vanishing or exploding," if layers >= 2
            else f"the flow was not judged ({layers} weight layer(s), it needs two),")
    return (f"HEALTHY over {n} watched step(s) ({of}): {flow}{dead} no update ratio ‖ΔW‖/‖W‖ "
            f"stayed far from ~{USUAL_RATIO}, and every loss and gradient was finite.")


def loss_sentence(report: WatchReport) -> str:
    """The loss from its first to its last finite value, and since when it is not finite."""
    pairs = list(zip(report.steps, report.loss))
    good = [(s, v) for s, v in pairs if finite(v)]
    if not good:
        return "no finite loss was recorded" if pairs else "no step was watched"
    (s0, v0), (s1, v1) = good[0], good[-1]
    text = f"E {num(v0)} at step {s0}"
    text += f" → {num(v1)} at step {s1}" if s1 != s0 else " (one watched step)"
    tail = [s for s, v in pairs if s > s1]
    if tail:
        text += (f"; no finite loss at the {len(tail)} watched step(s) from step {tail[0]}")
    return text


def watch_sentences(report: WatchReport) -> list[str]:
    """Every verdict as a sentence in step order, or the one summary of a healthy run."""
    if not report.verdicts:
        return [healthy_sentence(report)]
    return [verdict_sentence(report, v) for v in report.verdicts]
