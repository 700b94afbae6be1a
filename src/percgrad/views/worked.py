"""The worked arithmetic of ``single`` and ``multi`` as records: a line's symbols, the printed
numbers put in, its printed result, the planted mistake it shows (``--mistake``) and the gradient
entries it cites. The formula is the one the hand-derived pass really computed, mistake and all,
so the printed factors always multiply out to the printed result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from percgrad.catalog import ACTIVATIONS, LOSSES
from percgrad.reports.numbers import figure, sig, sub
from percgrad.reports.run import LayerReport, Report
from percgrad.views.fit import Prose
from percgrad.views.format import symbol

OPERATORS = ("·", "/", " + ")
HANG = "    "
"""Continuation lines of a wrapped worked line are indented this much more than its first."""
SUM_TERMS = 4
"""A sum over the batch is written out term by term up to this many samples."""


@dataclass(frozen=True)
class Cite:
    """An entry of ∂E/∂W that a worked line names: 0-based layer, row and column."""

    layer: int
    row: int
    col: int


@dataclass(frozen=True)
class Worked:
    """One worked line: ``lhs = symbolic (✗ mistake) = expression = result note``."""

    lhs: str
    symbolic: str
    expression: str
    """Plain arithmetic of printed numbers ('' when the result is a single factor); a sum with
    more terms than shown ends in ``+ …`` (then it is not checkable arithmetic)."""
    result: str
    value: float
    """The unrounded result (what the hand-derived pass computed)."""
    mistake: str = ""
    """How the planted mistake changed this line ('' when it did not)."""
    note: str = ""
    cites: tuple[Cite, ...] = ()
    indent: str = ""
    dim: bool = False

    def tokens(self) -> list[str]:
        """The line's pieces, each kept whole where the line wraps (backticks mark them)."""
        parts = [f"`{self.lhs}`", f"`= {self.symbolic}`"]
        if self.mistake:
            parts.append(f"({self.mistake})")  # words: it may wrap
        if self.expression:
            terms = self.expression.split(" + ")
            parts += [f"`{'=' if k == 0 else '+'} {t}`" for k, t in enumerate(terms)]
        parts.append(f"`= {self.result}`")
        if self.note:
            parts.append(self.note)
        return parts

    @property
    def text(self) -> str:
        """The line unwrapped, as printed at a width that holds it."""
        return self.indent + " ".join(t.replace("`", "") for t in self.tokens())

    def prose(self) -> Prose:
        """The line as Prose: it wraps between its pieces, continuation lines hang."""
        return Prose(" ".join(self.tokens()), style="dim" if self.dim else None,
                     indent=self.indent, hang=HANG)


def worked(lhs: str, symbolic: str, expression: str, value: float, *, mistake: str = "",
           cites: tuple[Cite, ...] = (), indent: str = "", dim: bool = False) -> Worked:
    """A Worked line; a lone factor (no operator) is the result itself, to 4 digits."""
    if not any(op in expression for op in OPERATORS):
        return Worked(lhs, symbolic, "", sig(value, 4), value, mistake=mistake, cites=cites,
                      indent=indent, dim=dim)
    return Worked(lhs, symbolic, expression, sig(value, 3), value, mistake=mistake, cites=cites,
                  indent=indent, dim=dim)


def loss_n(report: Report) -> int:
    """The n that the loss averages over: batch × outputs."""
    return int(report.settings["batch"]) * int(report.settings["outputs"])


def _coef(numerator: int, n: int) -> str:
    """(2/n); 2 (or nothing for 1) when n = 1."""
    if n == 1:
        return "" if numerator == 1 else str(numerator)
    return f"({numerator}/{n})"


def _times(*parts: str) -> str:
    return "·".join(p for p in parts if p)


def output_delta(report: Report, b: int, i: int, index: str, dphi: str,
                 slope: float) -> tuple[str, str, str]:
    """δ of output unit i for sample b as the hand-derived pass computed it: (symbols, printed
    factors that multiply out to it, how the planted mistake changed it). ``index`` follows o
    and t (``[0,2]`` or nothing), ``dphi`` names φ′ there and ``slope`` is its value."""
    assert report.output is not None
    s = report.settings
    loss = LOSSES[s["loss"]]
    mistake = s.get("mistake")
    n = loss_n(report)
    sym = symbol(s["activation"])
    o = float(report.output[b, i])
    t = float(report.target[b, i]) if report.target is not None and loss.uses_target else 0.0
    diff, diff_sym, mark = o - t, f"(o−t){index}", ""
    if mistake == "wrong-sign":
        diff, diff_sym = t - o, f"(t−o){index}"
        mark = "✗ wrong-sign: t−o in place of o−t"
    if not loss.uses_target:  # E = Σ o: ∂E/∂o = 1
        if mistake == "forget-dphi":
            return f"∂E/∂o{index}", "1", f"✗ forget-dphi: {sym}′ left out"
        if mistake == "wrong-sign":
            return f"−{dphi}", f"(-1)·{figure(slope)}", "✗ wrong-sign: ∂E/∂o = −1 in place of 1"
        return dphi, figure(slope), ""
    if loss.cancels_sigmoid:  # bce after a sigmoid: δ = (o−t)/n, computed fused
        if mistake == "forget-dphi":
            count = str(n) if n > 1 else ""
            return (f"{diff_sym}/({_times(count, dphi)})",
                    f"{figure(diff)}/({_times(count, figure(slope))})",
                    f"✗ forget-dphi: ∂E/∂o with {sym}′ not applied, so it does not cancel")
        coef = _coef(1, n)
        if mistake == "sum-not-mean" and n > 1:
            coef, mark = "", f"✗ sum-not-mean: the 1/{n} of the mean left out"
        return _times(coef, diff_sym), _times(coef, figure(diff)), mark
    coef = _coef(2, n)
    if mistake == "drop-2":
        coef, mark = _coef(1, n), "✗ drop-2: the 2 of ∂E/∂o left out"
    elif mistake == "sum-not-mean" and n > 1:  # with n = 1 the mean is the sum
        coef, mark = "2", f"✗ sum-not-mean: the 1/{n} of the mean left out"
    if mistake == "forget-dphi":
        return _times(coef, diff_sym), _times(coef, figure(diff)), f"✗ forget-dphi: {sym}′ left out"
    return _times(coef, diff_sym, dphi), _times(coef, figure(diff), figure(slope)), mark


def _square(layer: LayerReport) -> bool:
    return layer.shape[0] == layer.shape[1]


def hidden_delta(report: Report, k: int, b: int, i: int) -> tuple[str, str, str]:
    """δ_k+1[b,i] of a hidden layer (k from 0) as the hand-derived pass computed it: (symbols,
    printed factors, how the planted mistake changed it)."""
    layers = report.layers
    layer, above = layers[k], layers[k + 1]
    assert layer.dphi is not None and above.delta is not None and above.weight is not None
    assert layer.delta is not None
    mistake = report.settings.get("mistake")
    sym = symbol(report.settings["activation"])
    D, A, K = sub(k + 1), sub(k + 2), f"[{b},{i}]"
    slope = float(layer.dphi[b, i])
    dphi = f"{sym}′(a{D}{K})"
    if mistake == "stale-delta" and above.delta.shape == layer.delta.shape:
        return (f"δ{A}{K}", figure(float(above.delta[b, i])),
                f"✗ stale-delta: δ{A} reused in place of (δ{A}W{A})⊙{sym}′(a{D})")
    mark = ""
    if mistake == "no-transpose" and _square(above):
        g = float(above.delta[b] @ above.weight[i, :])
        product, mark = f"(δ{A}W{A}ᵀ){K}", f"✗ no-transpose: W{A}ᵀ in place of W{A}"
    else:
        g = float(above.delta[b] @ above.weight[:, i])
        product = f"(δ{A}W{A}){K}"
    if mistake == "forget-dphi":
        return product, figure(g), f"✗ forget-dphi: the factor {dphi} = {figure(slope)} left out"
    return f"{product}·{dphi}", f"{figure(g)}·{figure(slope)}", mark


def _weight_line(report: Report, k: int, b: int, i: int) -> Worked:
    """∂E/∂W_k+1[i,j] = Σ_b δ[b,i]·h[b,j] for the input j that is largest in sample b."""
    layer = report.layers[k]
    prev = report.input if k == 0 else report.layers[k - 1].post
    assert prev is not None and layer.delta is not None and layer.grad.analytic is not None
    j = int(np.abs(prev[b]).argmax())
    D, h = sub(k + 1), "x" if k == 0 else f"h{sub(k)}"
    total = float(layer.grad.analytic[i, j])
    cite = (Cite(k, i, j),)
    lhs = f"∂E/∂W{D}[{i},{j}]"
    rows = prev.shape[0]
    if rows == 1:
        return worked(lhs, f"δ{D}[{b},{i}]·{h}[{b},{j}]",
                      f"{figure(float(layer.delta[b, i]))}·{figure(float(prev[b, j]))}", total,
                      cites=cite, indent="  ", dim=True)
    symbolic = f"Σ_b δ{D}[b,{i}]·{h}[b,{j}]"
    if rows <= SUM_TERMS:
        terms = " + ".join(f"{figure(float(layer.delta[r, i]))}·{figure(float(prev[r, j]))}"
                           for r in range(rows))
        return worked(lhs, symbolic, terms, total, cites=cite, indent="  ", dim=True)
    return Worked(lhs, symbolic, "", sig(total, 3), total, cites=cite, indent="  ", dim=True,
                  note=f"(sample {b}: {figure(float(layer.delta[b, i]))}·{figure(float(prev[b, j]))})")


def multi_lines(report: Report) -> list[Worked] | None:
    """The δ recursion with the numbers of its largest entry put in, layer by layer from the
    output, each followed by the weight gradient it gives; None without the tensors."""
    layers = report.layers
    if any(layer.delta is None or layer.dphi is None or layer.weight is None or layer.post is None
           for layer in layers) or report.input is None or report.output is None:
        return None
    sym = symbol(report.settings["activation"])
    depth = len(layers)
    lines: list[Worked] = []
    for k in range(depth - 1, -1, -1):
        layer = layers[k]
        assert layer.delta is not None and layer.dphi is not None
        b, i = (int(v) for v in np.unravel_index(int(np.abs(layer.delta).argmax()), layer.delta.shape))
        D, K = sub(k + 1), f"[{b},{i}]"
        if k == depth - 1:
            symbolic, expression, mark = output_delta(report, b, i, K, f"{sym}′(a{D}{K})",
                                                      float(layer.dphi[b, i]))
        else:
            symbolic, expression, mark = hidden_delta(report, k, b, i)
        lines.append(worked(f"δ{D}{K}", symbolic, expression, float(layer.delta[b, i]),
                            mistake=mark))
        lines.append(_weight_line(report, k, b, i))
    return lines


def single_line(report: Report, b: int, name: str, x_val: float) -> tuple[str, str, str, float]:
    """∂E/∂w_j of sample b by the chain rule: (symbols, printed factors, how the planted mistake
    changed it, the value δ_b·x_bj)."""
    assert report.out is not None
    s = report.settings
    act = s["activation"]
    dphi = (f"{symbol(act)}′(a)" if not LOSSES[s["loss"]].uses_target
            else ACTIVATIONS[act].dphi_of_output)
    symbolic, expression, mark = output_delta(report, b, 0, "", dphi, float(report.out.do_da[b, 0]))
    value = float(report.out.delta[b, 0]) * x_val
    return _times(symbolic, name), _times(expression, figure(x_val)), mark, value


def single_lines(report: Report) -> list[Worked]:
    """∂E/∂w₀ by the chain rule (with a batch: the sum over the samples, then each sample)."""
    assert report.input is not None
    layer = report.layers[0]
    assert layer.grad.analytic is not None
    rows = report.input.shape[0]
    total = float(layer.grad.analytic[0, 0])
    if rows == 1:
        symbolic, expression, mark, _ = single_line(report, 0, "x₀", float(report.input[0, 0]))
        return [worked("∂E/∂w₀", symbolic, expression, total, mistake=mark)]
    shown = min(rows, 4 if rows <= 4 else 3)
    per_sample = [single_line(report, b, f"x_{b}0", float(report.input[b, 0])) for b in range(shown)]
    terms = " + ".join(figure(value) for *_, value in per_sample)
    if rows > shown:  # a partial sum: the terms shown, then "…" (not arithmetic to check)
        lines = [Worked("∂E/∂w₀", "Σ_b ∂E/∂w₀(sample b)", f"{terms} + …", sig(total, 3), total)]
    else:
        lines = [worked("∂E/∂w₀", "Σ_b ∂E/∂w₀(sample b)", terms, total)]
    for b, (symbolic, expression, mark, value) in enumerate(per_sample):
        lines.append(worked(f"sample {b}: ∂E/∂w₀", symbolic, expression, value, mistake=mark,
                            indent="  ", dim=True))
    return lines
