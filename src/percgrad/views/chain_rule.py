"""The worked chain rule of ``single`` and ``multi``: the backward pass in symbols, then with the
numbers of this run put in (the printed factors multiply out to the printed results)."""

from __future__ import annotations

import numpy as np
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from percgrad.catalog import ACTIVATIONS, LOSSES
from percgrad.reports.numbers import figure, num, sig, sub
from percgrad.reports.run import Report
from percgrad.views.fit import Prose
from percgrad.views.format import symbol


def loss_n(report: Report) -> int:
    """The n that the loss averages over: batch × outputs."""
    return int(report.settings["batch"]) * int(report.settings["outputs"])


def _dphi_symbol(activation: str) -> str:
    return f"{symbol(activation)}′(a)"


def chain_line(report: Report, b: int, j: int, name: str, x_val: float, total: float | None) -> str:
    """∂E/∂w_j for sample b, symbolic, then the printed factors, then the result: the factors
    multiply out to the result within its printed precision."""
    assert report.out is not None and report.output is not None and report.target is not None
    s = report.settings
    loss = LOSSES[s["loss"]]
    n = loss_n(report)
    act = s["activation"]
    o, t = float(report.output[b, 0]), float(report.target[b, 0])
    f = float(report.out.do_da[b, 0])
    delta = float(report.out.delta[b, 0])
    if not loss.uses_target:
        symbolic, factors = f"{_dphi_symbol(act)}·{name}", [figure(f), figure(x_val)]
        value = f * x_val
    elif loss.cancels_sigmoid:
        scale = "" if n == 1 else f"(1/{n})·"
        symbolic = f"{scale}(o−t)·{name}"
        factors = ([f"(1/{n})"] if n > 1 else []) + [figure(o - t), figure(x_val)]
        value = (o - t) / n * x_val
    else:
        two = "2" if n == 1 else f"(2/{n})"
        symbolic = f"{two}(o−t)·{ACTIVATIONS[act].dphi_of_output}·{name}"
        factors = [two, figure(o - t), figure(f), figure(x_val)]
        value = 2.0 / n * (o - t) * f * x_val
    del delta
    result = value if total is None else total
    return f"{symbolic} = {'·'.join(factors)} = {sig(result, 3)}"


def derivation_single(report: Report) -> Panel:
    """∂E/∂w₀ by the chain rule, with the numbers put in (they multiply out to the result)."""
    assert report.out is not None and report.input is not None and report.output is not None
    assert report.target is not None
    s = report.settings
    layer = report.layers[0]
    assert layer.grad.analytic is not None
    rows = report.input.shape[0]
    lines: list[RenderableType] = []
    loss = LOSSES[s["loss"]]
    if loss.cancels_sigmoid:
        lines.append(Prose(
            "bce with a sigmoid output: `∂E/∂o = (o−t)/(n·o(1−o))` and `∂o/∂a = o(1−o)`, so σ′ "
            "cancels: `∂E/∂a = (o−t)/n`.", style="italic"))
    if not loss.uses_target:
        lines.append(Prose("E = Σ o is the output itself: `∂E/∂o = 1`, so ∂E/∂w is ∂o/∂w.",
                           style="italic"))
    total = float(layer.grad.analytic[0, 0])
    x0 = float(report.input[0, 0])
    if rows == 1:
        lines.append(Text("∂E/∂w₀ = " + chain_line(report, 0, 0, "x₀", x0, total)))
    else:
        shown = min(rows, 4 if rows <= 4 else 3)
        terms = [chain_line(report, b, 0, f"x_{b}0", float(report.input[b, 0]),
                            None).rsplit(" = ", 1)[-1] for b in range(shown)]
        more = " + …" if rows > shown else ""
        lines.append(Text(f"∂E/∂w₀ = Σ_b ∂E/∂w₀(sample b) = {' + '.join(terms)}{more} = "
                          f"{sig(total, 3)}"))
        for b in range(shown):
            lines.append(Text(f"  sample {b}: " + chain_line(report, b, 0, f"x_{b}0",
                                                              float(report.input[b, 0]), None),
                              style="dim"))
    o = float(report.output[0, 0])
    if loss.uses_target:
        lines.append(Text(f"where o−t = {num(o, 4)} − {num(float(report.target[0, 0]), 4)} and "
                          f"{_dphi_symbol(s['activation'])} = {num(float(report.out.do_da[0, 0]), 4)}",
                          style="dim"))
    lines.append(Text(
        f"‖∂E/∂W‖ = {num(layer.grad_norm)}   ‖δ‖ = ‖∂E/∂a‖ = {num(layer.delta_norm)}", style="dim"
    ))
    return Panel(Group(*lines), title="Chain rule for one weight", title_align="left",
                 expand=False)


def derivation_multi(report: Report) -> Panel:
    """The backward pass in matrix form, with the symbols of this network."""
    s = report.settings
    depth = len(report.layers)
    n = loss_n(report)
    act = s["activation"]
    sym = symbol(act)
    loss = LOSSES[s["loss"]]
    L = sub(depth)
    lines: list[str] = []
    dphi_out = ACTIVATIONS[act].dphi_of_output.replace("o(1−o)", "o ⊙ (1−o)")
    if loss.cancels_sigmoid:
        lines.append(f"δ{L} = ∂E/∂a{L} = (o−t)/{n}          (bce: σ′ cancels)")
    elif not loss.uses_target:
        lines.append(f"δ{L} = ∂E/∂o ⊙ {sym}′(a{L}) = {dphi_out}          (E = Σ o: ∂E/∂o = 1)")
    else:
        lines.append(f"δ{L} = ∂E/∂o ⊙ {sym}′(a{L}) = (2/{n})·(o−t) ⊙ {dphi_out}")
    for k in range(depth, 0, -1):
        prev = "x" if k == 1 else f"h{sub(k - 1)}"
        out_n, in_n = report.layers[k - 1].shape
        lines.append(f"∂E/∂W{sub(k)} = δ{sub(k)}ᵀ {prev}          ({out_n}×{in_n})")
        if s["bias"]:
            lines.append(f"∂E/∂b{sub(k)} = Σ_batch δ{sub(k)}")
        if k > 1:
            dphi = ACTIVATIONS[act].dphi_of_hidden.format(k=sub(k - 1))
            lines.append(f"δ{sub(k - 1)} = (δ{sub(k)} W{sub(k)}) ⊙ {dphi}")
    if depth == 1 and s["loss"] == "mse" and act == "sigmoid":
        lines.append(
            f"In column form: ∂E/∂W = (2/{n})·((o−t) ⊙ o ⊙ (1−o)) xᵀ"
            + ("   — the tutorial's c/2.0 for n = 4" if n == 4 else "")
        )
    return Panel(Text("\n".join(lines)), title="Backward pass in matrix form "
                 "(rows = samples: a = h Wᵀ, δ = ∂E/∂a)", title_align="left", expand=False)


def delta_numbers(report: Report) -> Panel | None:
    """The δ recursion with the numbers of its largest entry put in, layer by layer from the
    output, and the weight gradient it gives (the factors multiply out to the results)."""
    layers = report.layers
    if any(layer.delta is None or layer.dphi is None or layer.weight is None or layer.post is None
           for layer in layers) or report.input is None or report.output is None:
        return None
    s = report.settings
    loss = LOSSES[s["loss"]]
    n = loss_n(report)
    sym = symbol(s["activation"])
    depth = len(layers)
    lines: list[RenderableType] = []
    for k in range(depth - 1, -1, -1):
        layer = layers[k]
        assert layer.delta is not None and layer.dphi is not None
        b, i = (int(v) for v in np.unravel_index(int(np.abs(layer.delta).argmax()), layer.delta.shape))
        d = float(layer.delta[b, i])
        f = float(layer.dphi[b, i])
        D, K = sub(k + 1), f"[{b},{i}]"
        if k == depth - 1:
            o = float(report.output[b, i])
            t = float(report.target[b, i]) if report.target is not None else 0.0
            if loss.cancels_sigmoid:
                line = f"δ{D}{K} = (o−t){K}/{n} = {figure(o - t)}/{n} = {sig(d, 3)}"
            elif not loss.uses_target:
                line = f"δ{D}{K} = {sym}′(a{D}{K}) = {sig(f, 3)}"
            else:
                line = (f"δ{D}{K} = (2/{n})·(o−t){K}·{sym}′(a{D}{K}) = (2/{n})·{figure(o - t)}·"
                        f"{figure(f)} = {sig(d, 3)}")
        else:
            above = layers[k + 1]
            assert above.delta is not None and above.weight is not None
            g = float(above.delta[b] @ above.weight[:, i])
            line = (f"δ{D}{K} = (δ{sub(k + 2)}W{sub(k + 2)}){K}·{sym}′(a{D}{K}) = {figure(g)}·"
                    f"{figure(f)} = {sig(d, 3)}")
        lines.append(Text(line))
        prev = report.input if k == 0 else layers[k - 1].post
        assert prev is not None and layer.grad.analytic is not None
        j = int(np.abs(prev[b]).argmax())
        h_name = "x" if k == 0 else f"h{sub(k)}"
        if prev.shape[0] == 1:
            lines.append(Text(f"  ∂E/∂W{D}[{i},{j}] = δ{D}{K}·{h_name}[{b},{j}] = {figure(d)}·"
                              f"{figure(float(prev[b, j]))} = {sig(float(layer.grad.analytic[i, j]), 3)}",
                              style="dim"))
        else:
            lines.append(Text(f"  ∂E/∂W{D}[{i},{j}] = Σ_b δ{D}[b,{i}]·{h_name}[b,{j}] = "
                              f"{sig(float(layer.grad.analytic[i, j]), 3)} (sample {b}: "
                              f"{figure(d)}·{figure(float(prev[b, j]))})", style="dim"))
    return Panel(Group(*lines), title="The same with numbers: the largest δ entry of every layer",
                 title_align="left", expand=False)
