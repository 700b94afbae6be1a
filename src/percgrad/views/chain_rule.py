"""The worked chain rule of ``single`` and ``multi``: the backward pass in symbols, then with the
numbers of this run put in (the printed factors multiply out to the printed results)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from percgrad.catalog import ACTIVATIONS, LOSSES, MISTAKES
from percgrad.reports.numbers import num, sub
from percgrad.reports.run import Report
from percgrad.views.fit import Prose
from percgrad.views.format import symbol
from percgrad.views.worked import Worked, loss_n, multi_lines, single_lines

__all__ = ["delta_numbers", "derivation_multi", "derivation_single", "loss_n", "mistake_line"]


def _dphi_symbol(activation: str) -> str:
    return f"{symbol(activation)}′(a)"


def mistake_line(report: Report) -> Prose | None:
    """What the planted mistake changes in the derivation (None without one)."""
    name = report.settings.get("mistake")
    if not name:
        return None
    m = MISTAKES[name]
    return Prose(f"✗ --mistake {name} plants `{m.wrong}` in place of `{m.right}`: the lines "
                 "marked ✗ use it.", style="yellow")


def derivation_single(report: Report) -> Panel:
    """∂E/∂w₀ by the chain rule, with the numbers put in (they multiply out to the result)."""
    assert report.out is not None and report.input is not None and report.output is not None
    assert report.target is not None
    s = report.settings
    layer = report.layers[0]
    lines: list[RenderableType] = []
    loss = LOSSES[s["loss"]]
    if loss.cancels_sigmoid:
        lines.append(Prose(
            "bce with a sigmoid output: `∂E/∂o = (o−t)/(n·o(1−o))` and `∂o/∂a = o(1−o)`, so σ′ "
            "cancels: `∂E/∂a = (o−t)/n`.", style="italic"))
    if not loss.uses_target:
        lines.append(Prose("E = Σ o is the output itself: `∂E/∂o = 1`, so ∂E/∂w is ∂o/∂w.",
                           style="italic"))
    lines += [line.prose() for line in single_lines(report)]
    o = float(report.output[0, 0])
    if loss.uses_target:
        lines.append(Text(f"where o−t = {num(o, 4)} − {num(float(report.target[0, 0]), 4)} and "
                          f"{_dphi_symbol(s['activation'])} = {num(float(report.out.do_da[0, 0]), 4)}",
                          style="dim"))
    lines.append(Text(
        f"‖∂E/∂W‖ = {num(layer.grad_norm)}   ‖δ‖ = ‖∂E/∂a‖ = {num(layer.delta_norm)}", style="dim"
    ))
    mistake = mistake_line(report)
    if mistake is not None:
        lines.append(mistake)
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
    body: list[RenderableType] = [Text("rows = samples: a = h Wᵀ, δ = ∂E/∂a", style="dim"),
                                  Text("\n".join(lines))]
    mistake = mistake_line(report)
    if mistake is not None:
        body.append(mistake)
    return Panel(Group(*body), title="Backward pass in matrix form", title_align="left",
                 expand=False)


def delta_numbers(report: Report, lines: list[Worked] | None = None) -> Panel | None:
    """The δ recursion with the numbers of its largest entry put in, layer by layer from the
    output, and the weight gradient it gives (the factors multiply out to the results)."""
    lines = multi_lines(report) if lines is None else lines
    if lines is None:
        return None
    return Panel(Group(*[line.prose() for line in lines]),
                 title="With numbers: the largest δ of every layer",
                 title_align="left", expand=False)
