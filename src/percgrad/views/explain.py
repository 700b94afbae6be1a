"""The pages of ``percgrad explain``: a few plain sentences per topic and its worked example,
with the numbers computed on the spot (engines/explain.py)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from percgrad.reports.explain import Example
from percgrad.reports.numbers import sig
from percgrad.views.fit import Prose


def _f(v: float, digits: int = 4) -> str:
    return f"({sig(v, digits)})" if v < 0 else sig(v, digits)


def _page(title: str, words: list[str], example: list[str], more: str,
          commands: tuple[str, ...] = ()) -> RenderableType:
    body: list[RenderableType] = [Prose(w) for w in words]
    body.append(Text(""))
    body.append(Text("Worked example, computed now:", style="bold"))
    body += [Prose(line, indent="  ", hang="    ") for line in example]
    body.append(Text(""))
    if commands:
        body.append(Prose("The same numbers, from the command line: " + commands[0], style="dim"))
        body += [Prose(f"and {c}", style="dim") for c in commands[1:]]
    if more:
        body.append(Prose(f"Try: {more}", style="dim"))
    return Panel(Group(*body), title=f"[bold]percgrad explain {title}[/]", title_align="left",
                 expand=False)


def page(ex: Example) -> RenderableType:
    """The page of one topic."""
    v = ex.values
    if ex.topic == "delta":
        return _page("delta", [
            "δ (delta) is the gradient of the loss with respect to a layer's pre-activation, "
            "`δ = ∂E/∂a`, where `a = x·wᵀ` is the sum that goes into the activation.",
            "Every weight's gradient is δ times the input that weight multiplies, "
            "`∂E/∂w_j = δ·x_j`, so δ is how much blame the layer's output passes back.",
        ], [
            f"x = ({v['x0']:g}, {v['x1']:g}), w = ({v['w0']:g}, {v['w1']:g}), t = {v['t']:g}",
            f"`a = {v['w0']:g}·{v['x0']:g} + {v['w1']:g}·{_f(v['x1'])} = {sig(v['a'], 4)}`, "
            f"`o = σ(a) = {sig(v['o'], 4)}`, `E = (o−t)² = {sig(v['E'], 4)}`",
            f"`∂E/∂o = 2(o−t) = {sig(v['dEdo'], 4)}`, `σ′(a) = o(1−o) = {sig(v['dphi'], 4)}`",
            f"`δ = ∂E/∂o·σ′(a) = {_f(v['dEdo'])}·{_f(v['dphi'])} = {sig(v['delta'], 3)}`",
            f"`∂E/∂w₀ = δ·x₀ = {_f(v['delta'])}·{_f(v['x0'])} = {sig(v['g0'], 3)}` "
            f"(autograd: {sig(v['g0_autograd'], 6)})",
        ], "", ex.commands)
    if ex.topic == "chain-rule":
        return _page("chain-rule", [
            "The chain rule multiplies local derivatives along the path from the loss back to "
            "a weight. In matrix form a layer passes `∂E/∂h = δ W` down, and the layer below "
            "multiplies by its own φ′: `δ_k = (δ_k+1 W_k+1) ⊙ φ′(a_k)`.",
            "That is the whole backward pass: one matrix product and one elementwise product "
            "per layer, then `∂E/∂W_k = δ_kᵀ h_k−1`.",
        ], [
            f"two layers 2 → 2 → 1: `δ₂ = {sig(v['delta2'], 4)}`, `W₂[0,0] = {sig(v['w2'], 4)}`",
            f"`(δ₂W₂)[0] = δ₂·W₂[0,0] = {_f(v['delta2'])}·{_f(v['w2'])} = {sig(v['back'], 4)}` "
            "(one output, so the sum over it has one term)",
            f"`δ₁[0] = (δ₂W₂)[0]·φ′(a₁[0]) = {_f(v['back'])}·{_f(v['dphi1'])} = "
            f"{sig(v['delta1'], 3)}`",
            f"`∂E/∂W₁[0,0] = δ₁[0]·x₀ = {_f(v['delta1'])}·{_f(v['x0'])} = {sig(v['g'], 3)}` "
            f"(autograd: {sig(v['g_autograd'], 6)})",
        ], "", ex.commands)
    if ex.topic == "chi":
        return _page("chi", [
            "χ (chi) is the factor by which a layer multiplies `‖δ‖²` on its way back: "
            "`χ = σ_w²·E[φ′(h)²]`, h the pre-activation, spread `q`, and σ_w² the weights' "
            "variance times fan-in. χ < 1 vanishes, χ > 1 explodes, χ = 1 is the edge of chaos.",
            "Mean-field theory predicts it for wide random layers; percgrad measures "
            "`‖δ_k‖²/‖δ_k+1‖²` beside it.",
        ], [
            f"tanh, σ_w² = 1, q = 1: `χ = E[tanh′(h)²] = {sig(v['tanh_q1'], 4)}`",
            f"relu, σ_w² = 2 (He): `χ = 2·½ = {sig(v['relu_2'], 3)}`: stable at any depth",
            f"sigmoid: `σ′ ≤ ¼`, so `χ ≤ σ_w²/16 = {sig(v['sigmoid_max'], 3)}` at σ_w² = 1",
            f"a tanh chain of width 256, xavier: measured {sig(v['measured'], 3)} per layer, "
            f"predicted {sig(v['predicted'], 3)}",
        ], "percgrad vanish --depth 50 --width 256 --activation tanh --init xavier (deeper)",
            ex.commands)
    if ex.topic == "saturation":
        return _page("saturation", [
            "A unit is saturated when its activation is flat where it sits: `|φ′(a)|` below "
            "10% of its maximum. Every gradient through it is multiplied by that small φ′, so "
            "saturated layers learn slowly and pass little gradient down.",
            "sigmoid and tanh saturate for large |a|; large weights or inputs push them there.",
        ], [
            f"`σ′(0) = {sig(v['s0'], 3)}`, `σ′(2) = {sig(v['s2'], 3)}`, `σ′(5) = {sig(v['s5'], 3)}`",
            f"`tanh′(0) = {sig(v['t0'], 3)}`, `tanh′(2) = {sig(v['t2'], 3)}`, "
            f"`tanh′(5) = {sig(v['t5'], 3)}`",
            f"the neuron of `explain delta`: `a = {sig(v['a'], 4)}`, `σ′(a) = {sig(v['dphi'], 4)}` "
            f"({v['dphi'] / 0.25:.0%} of the maximum ¼)",
        ], "percgrad single --inputs 3 (its neuron is saturated: see the warning)", ex.commands)
    if ex.topic == "dead-units":
        return _page("dead-units", [
            "A ReLU unit is dead on a batch when its pre-activation is negative for every "
            "sample: `relu′(a) = 0` there, so no gradient reaches its weights and gradient "
            "descent cannot bring it back.",
            "A chain of width 1 dies as soon as one unit does; wide layers lose a share.",
        ], [
            f"w = (−1, −0.5) on three samples: `a = {sig(v['a0'], 3)}`, `{sig(v['a1'], 3)}`, "
            f"`{sig(v['a2'], 3)}` — all negative",
            f"so `∂E/∂w₀ = Σ_b δ_b·x_b0 = {sig(v['g0'], 3)}` exactly, and the check is "
            + ("vacuous (0 = 0 proves nothing)" if v["vacuous"] else "not vacuous"),
        ], "percgrad vanish --depth 10 --activation relu --init kaiming", ex.commands)
    if ex.topic == "init":
        return _page("init", [
            "An init scheme fixes the weights' variance, and σ_w² = fan_in·Var(W) is what "
            "sets the signal's size layer after layer (and χ).",
            "`normal` ignores the width (σ_w² = fan_in); xavier gives about 1; kaiming gives "
            "the activation's gain squared (2 for relu), which keeps relu chains stable.",
        ], [
            f"fan-in {v['fan']:g}: normal `σ_w² = {sig(v['normal'], 4)}`, pytorch "
            f"`{sig(v['pytorch'], 3)}`, xavier `{sig(v['xavier'], 3)}`, kaiming (relu) "
            f"`{sig(v['kaiming'], 3)}`, orthogonal `{sig(v['orthogonal'], 3)}`",
        ], "percgrad vanish --compare-init normal,xavier,kaiming --activation relu --width 256")
    if ex.topic == "residual":
        return _page("residual", [
            "A residual (skip) connection adds the layer's input to its output, "
            "`h_k = h_k−1 + φ(a_k)`. On the way back the gradient takes the skip unchanged "
            "plus the layer's own path, so the factor per layer is about `1 + χ` instead of χ.",
            "That keeps early layers reachable in very deep nets, at the price of a growing "
            "signal; layer norm (`--norm layer`) keeps the signal's size in check.",
        ], [
            f"tanh, xavier, width 256: plain predicted {sig(v['plain_pred'], 3)}, measured "
            f"{sig(v['plain_meas'], 3)}; residual predicted {sig(v['res_pred'], 3)}, measured "
            f"{sig(v['res_meas'], 3)}",
        ], "percgrad vanish --depth 50 --width 256 --activation tanh --init xavier "
           "--compare-arch plain,residual,layernorm (deeper, with layer norm)", ex.commands)
    return _page("check", [
        "The check compares the hand-derived gradient with autograd and with central finite "
        "differences, `(E(w+ε) − E(w−ε))/2ε`, computed in float64 on a copy of the network.",
        "Relative error is `|a−b| / max(|a|, |b|)` with a floor; it passes below 1e-3 in "
        "float32 and 1e-6 in float64. `--mistake forget-dphi` shows it catching a wrong "
        "derivation.",
    ], [
        f"w₀ ± ε with `ε = {v['eps']:g}`: `E(w₀+ε) = {v['plus']:.12g}`, "
        f"`E(w₀−ε) = {v['minus']:.12g}`",
        f"`(E(w₀+ε) − E(w₀−ε))/2ε = {sig(v['numeric'], 8)}`; analytic "
        f"{sig(v['analytic'], 8)}; relative error {v['rel']:.1e}",
    ], (f"{ex.commands[0]} --mistake forget-dphi (the check catching a wrong derivation)"
        if ex.commands else ""), ex.commands)
