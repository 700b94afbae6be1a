"""Verdict records in plain English: the one place a Mismatch or a Notice becomes a sentence
(the Rich renderers and the JSON document's ``failures`` and ``warnings`` both use it)."""

from __future__ import annotations

from percgrad.verdict import Advice, Mismatch, Notice


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
    elif n.kind == "first-layer-plain":
        text = (f"{_layers(n.layers)} has no skip connection: its input and output widths "
                "differ, so h = φ(a) there.")
    else:
        raise ValueError(n.kind)
    return prefix + text


def advice(a: Advice) -> str:
    """One piece of advice as a sentence."""
    if a.kind == "sigmoid-cap":
        return ("sigmoid's φ′ ≤ 1/4 caps every factor at σ_w²/16: only large weights can offset "
                "it, and they saturate the units")
    return (f"{a.activation} with --init {a.init} (gain {a.gain:g}) would give χ ≈ {a.chi:.3g} "
            f"({a.diagnosis})")


FLOW_NOTES = {
    "bound-skipped": ("The spectral bound was skipped: one SVD per layer would take a while at "
                      "this size (--bound computes it anyway)."),
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
