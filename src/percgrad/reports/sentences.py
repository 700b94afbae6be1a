"""Verdict records in plain English: the one place a Mismatch or a Notice becomes a sentence
(the Rich renderers and the JSON document's ``failures`` and ``warnings`` both use it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from percgrad.catalog import ACTIVATIONS, MISTAKES
from percgrad.reports.records import Advice, Mismatch, Notice
from percgrad.theory.flow import SIGNAL_LOST, VANISHING_SHARE

if TYPE_CHECKING:
    from percgrad.reports.run import FlowSummary, TheoryReport


def _layers(layers: tuple[int, ...]) -> str:
    if not layers:
        return ""
    if len(layers) == 1:
        return f"layer {layers[0]}"
    if list(layers) == list(range(layers[0], layers[-1] + 1)):
        return f"layers {layers[0]}–{layers[-1]}"
    return "layers " + ", ".join(str(k) for k in layers)


def mismatch(m: Mismatch) -> str:
    """One failed comparison as a sentence."""
    prefix = f"{m.run}: " if m.run else ""
    tol = f"(relative error {m.rel_error:.2e} > tolerance {m.tolerance:.0e})"
    if m.against == "direction":
        text = (f"random direction u{m.direction}: uᵀ∇ analytic {m.analytic:.6g} vs numeric "
                f"{m.reference:.6g} {tol}")
        if m.float64_rel_error is not None:
            text += (f". In float64 the same formula matches to {m.float64_rel_error:.1e}: the gap "
                     f"is {m.dtype} round-off amplified by this network (try --dtype float64)")
        return prefix + text
    if m.against == "training":
        return (prefix + f"training: analytic and autograd gradients differ by {m.rel_error:.2e} "
                f"(> {m.tolerance:.0e}) at a recorded step")
    text = (f"W{m.layer}: analytic and {m.against} disagree most at {m.entry}: "
            f"analytic {m.analytic:.6g} vs {m.against} {m.reference:.6g} {tol}")
    if m.float64_rel_error is not None:
        text += (f". The same formula in float64 matches to {m.float64_rel_error:.1e}: the gap is "
                 f"{m.dtype} round-off amplified by this network, not the derivation (try --dtype "
                 "float64)")
    return prefix + text


def notice(n: Notice) -> str:
    """One warning as a sentence."""
    prefix = f"{n.run}: " if n.run else ""
    if n.kind == "nonfinite":
        hint = ("--dtype float64 or a smaller --gain" if n.dtype == "float32"
                else "a smaller --gain or a shallower net")
        text = (f"non-finite values (overflow or NaN) first appear in {n.where}; the gradient "
                f"check does not apply. Try {hint}.")
    elif n.kind == "underflow":
        hint = " (--dtype float64 reaches about 1e-308)" if n.dtype == "float32" else ""
        text = (f"δ underflows to exactly 0 in {_layers(n.layers)}: {n.dtype} holds no magnitude "
                f"below about {n.value:.0e}{hint}.")
    elif n.kind == "unsettled":
        text = (f"{n.count} finite difference(s) could not be trusted and were left out of the "
                "check: they never settled across the step sizes tried (a loss too rough at that "
                "scale, or a change below the round-off), or the slope is too steep for any step.")
    elif n.kind == "kinks":
        text = (f"{n.count} finite difference(s) straddled the kink of {n.activation} at 0 and "
                "were left out of the check.")
    elif n.kind == "bound":
        text = f"the bound ‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖ fails at W{n.layers[0]}"
    elif n.kind == "training-stopped":
        text = (f"training stopped at step {n.count}: the loss or a gradient is no longer finite "
                f"(try a smaller --lr than {n.value:g})")
    elif n.kind == "init-scale":
        text = (f"--init normal draws N(0, gain²) whatever the width: at fan-in {n.count} that is "
                f"σ_w² = {n.value:.4g} (σ_w² near 1 keeps the signal's size); "
                + _init_scale_advice(n.where))
    elif n.kind == "saturated":
        sup = ACTIVATIONS[n.activation].dphi_sup
        if n.count == 1 and n.layers == (1,) and n.dphi is not None:
            sym = ACTIVATIONS[n.activation].symbol
            text = (f"the neuron is saturated: {sym}′(a) = {n.dphi:.3g}, below 10% of its maximum "
                    f"{sup:g}, so every gradient through it is multiplied by {n.dphi:.3g}.")
        else:
            text = (f"{_layers(n.layers)}: up to {n.value:.0%} of the units are saturated (|φ′| "
                    f"below 10% of its maximum {sup:g}): their gradients are cut at least tenfold.")
    elif n.kind == "saturated-cancels":
        sym = ACTIVATIONS[n.activation].symbol
        sup = ACTIVATIONS[n.activation].dphi_sup
        if n.count == 1 and n.layers == (1,) and n.dphi is not None:
            text = (f"the neuron is saturated: {sym}′(a) = {n.dphi:.3g}, below 10% of its maximum "
                    f"{sup:g}; with bce {sym}′ cancels, so ∂E/∂a = (o−t)/n is not multiplied by "
                    f"it (with mse it would be).")
        else:
            text = (f"{_layers(n.layers)} (the output): up to {n.value:.0%} of the units are "
                    f"saturated, but with bce {sym}′ cancels there: δ = (o−t)/n is not cut by it.")
    elif n.kind == "dead-units":
        batch = (" (with one sample, about half of a ReLU layer is 0 by chance)"
                 if n.count == 1 else f" on all {n.count} samples")
        text = (f"{_layers(n.layers)}: up to {n.value:.0%} of the units are dead{batch}: φ′ = 0, so "
                "no gradient reaches their weights.")
    elif n.kind == "first-layer-plain":
        text = (f"{_layers(n.layers)} has no skip connection: its input and output widths "
                "differ, so h = φ(a) there.")
    else:
        raise ValueError(n.kind)
    return prefix + text


def _init_scale_advice(where: str | None) -> str:
    """What the init-scale warning advises: untried (single, multi), or what trial runs found."""
    if where is None:
        return "try --init xavier or --init kaiming."
    if where == "stable":
        return "this chain is judged stable as it is, so no other init is advised."
    if not where:
        return ("trial runs of this chain with --init xavier and with --init kaiming are not "
                "judged stable either: another init alone does not mend it.")
    inits = where.split(",")
    flags = " or ".join(f"--init {i}" for i in inits)
    return (f"try {flags}: a trial run of this chain with {'either' if len(inits) > 1 else 'it'} "
            "is judged stable.")


def advice(a: Advice) -> str:
    """One piece of advice as a sentence."""
    if a.kind == "sigmoid-cap":
        return ("sigmoid's φ′ ≤ 1/4 caps every factor at σ_w²/16: only large weights can offset "
                "it, and they saturate the units")
    if a.kind == "none-stable":
        run = ("a trial run of this shape" if a.proxy is None else
               f"a trial run at width {a.proxy[0]}, batch {a.proxy[1]} (a stand-in for this "
               "shape: the same depth, σ_w² and σ_b²)")
        return f"no other activation or init tried is judged stable in {run}, so none is advised"
    if not a.tried:
        tried = " (theory only: not tried)"
    elif a.proxy is not None:
        width, batch = a.proxy
        tried = (f"; a trial run at width {width}, batch {batch} (a stand-in for this shape: the "
                 f"same depth, σ_w² and σ_b²) is judged {a.tried}")
    else:
        tried = f"; a trial run of this shape is judged {a.tried}"
    return (f"{a.activation} with --init {a.init} (gain {a.gain:g}): theory's factor per layer "
            f"`χ ≈ {a.chi:.3g}`{tried}")


def _g(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "—"
    return f"{v:.{digits}g}" if 1e-3 <= abs(v) < 1e5 or v == 0 else f"{v:.{max(digits - 1, 1)}e}"


def depth_scale(layers: float | None, critical: bool, growing: bool) -> str:
    """The depth scale ξ = 1/|ln χ̄| in words."""
    if critical:
        return "depth scale ∞ (`χ̄ = 1`: the edge of chaos)"
    if layers is None:
        return "depth scale —"
    if growing:
        return f"depth scale `ξ = 1/ln χ̄ = {_g(layers)}` layers: ‖δ‖² grows by e every ξ layers"
    return f"depth scale `ξ = −1/ln χ̄ = {_g(layers)}` layers: ‖δ‖² shrinks by e every ξ layers"


def diagnosis(summ: FlowSummary, th: TheoryReport, depth: int, settings: dict[str, Any]) -> str:
    """Why the verdict is what it is, from the numbers it was judged from."""
    share = summ.first_share
    kind = summ.diagnosis
    what = f"{settings['activation']} with --init {settings['init']}"
    per = summ.measured_mean_factor
    delta = (f"‖δ‖² changes by `×{_g(per)}` per layer (geometric mean)" if per is not None else "")
    if kind == "non-finite":
        return "values overflow or turn NaN (see the warning), so nothing below can be judged."
    if kind == SIGNAL_LOST:
        k = summ.verdict_layers[0]
        above = (f", and `∂E/∂W{_sub(k + 1)} = δᵀh{_sub(k)}` is 0" if k < depth else "")
        return (f"the forward signal dies: `h{_sub(k)}` is exactly 0 on every unit and sample (it "
                f"underflowed: {settings['dtype']} holds no magnitude below about "
                f"{_tiny(str(settings['dtype'])):.0e}), so the output no longer depends on the "
                f"input{above}: these gradients measure no flow to judge.")
    if kind == "dead":
        where = _layers(tuple(summ.verdict_layers))
        return (f"every unit of {where} has φ′ = 0 on this batch, so no gradient flows through "
                "it: the weights there and below get exactly 0, and gradient descent cannot "
                f"revive them ({what}; a unit dies when its pre-activation is negative for every "
                "sample).")
    if share is None:
        if depth == 1:
            return "a single layer has no trend to judge."
        return (f"`‖∂E/∂W{_sub(depth)}‖` is 0 or not finite, so the first layer's share of it, "
                "which the verdict is judged from, cannot be formed.")
    first = f"`‖∂E/∂W₁‖` is `{_g(share, 2)} × ‖∂E/∂W{_sub(depth)}‖`"
    if kind == "vanishing":
        return (f"{first}, below the {VANISHING_SHARE:g} at which one learning rate stops serving "
                f"both ends: the early layers barely learn; {delta}.")
    if kind == "exploding":
        return (f"{first}, more than {1 / VANISHING_SHARE:g}×: a step that suits the last layer "
                f"is far too large for the first; {delta}.")
    text = f"{first}: every layer gets a gradient of similar size"
    if summ.delta_trend in ("vanishing", "exploding"):
        other = "grow" if summ.delta_trend == "vanishing" else "shrink"
        text += (f" — {delta}, but the activations it multiplies {other} towards the input, "
                 "so `∂E/∂W = δᵀh` stays level")
    return text + "."


def _tiny(dtype: str) -> float:
    """The smallest magnitude a dtype holds (its smallest subnormal)."""
    return {"float32": 1.4e-45, "float64": 4.9e-324}.get(dtype, 0.0)


def _sub(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


FLOW_NOTES = {
    "bound-skipped": ("The spectral bound was skipped: one SVD per layer would take a while at "
                      "this size (--bound computes it anyway)."),
    "bound-off": "The spectral bound was not computed: --no-bound turns it off.",
    "bound-plain-only": ("The spectral bound holds for plain chains only: a skip connection or "
                         "a layer norm changes the product it bounds."),
    "relu-mse": ("ReLU's predicted factor is exactly σ_w²/2; the measured one sits a little above "
                 "it with an MSE loss, because the output gradient is correlated with the forward "
                 "pass (the theory assumes they are independent)."),
    "narrow": ("Mean-field theory predicts averages over random weights of wide layers; a narrow "
               "chain fluctuates around it (try --width 256 to see it agree)."),
    "residual-unbounded": ("A residual chain of an unbounded activation grows its forward signal "
                           "layer by layer; with an MSE loss the output gradient then follows that "
                           "signal, so the measured factor runs well above the prediction, which "
                           "assumes the two independent."),
}


def flow_note(kind: str) -> str:
    """A note under the gradient-flow diagnosis, by kind."""
    return FLOW_NOTES[kind]


def mistake_caught(name: str) -> str:
    """The sentence under a failed check that names the planted mistake."""
    m = MISTAKES[name]
    return (f"That is the mistake planted with --mistake {name}: {m.title} ({m.wrong} instead of "
            f"{m.right}). The check caught it.")


def mistake_missed(name: str) -> str:
    """The sentence when a planted mistake went unnoticed."""
    m = MISTAKES[name]
    return (f"The mistake planted with --mistake {name} ({m.title}) makes no measurable "
            "difference on this network, so the check could not catch it.")
