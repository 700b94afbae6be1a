"""Rich renderables built from a Report: they are returned, never printed here."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence

import numpy as np
from rich import box
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from percgrad import render_text
from percgrad.catalog import ACTIVATIONS, LOSSES
from percgrad.report import Comparison, LayerReport, Report

BAR_WIDTH = 24
VANISH_BAR = 14
MIN_DECADES = 2
"""A log bar spans at least this many decades, so that small differences look small."""
EDGE = 3
"""Rows and columns shown at each end of an elided matrix."""
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

def symbol(activation: str) -> str:
    """φ's symbol in formulas (σ, tanh, relu …)."""
    return ACTIVATIONS[activation].symbol


def make_console(record: bool = False, quiet: bool = False) -> Console:
    """The stdout console (``quiet``: records into a buffer, prints nothing); COLUMNS fixes the
    width."""
    width = os.environ.get("COLUMNS", "")
    chosen = int(width) if width.isdigit() else (120 if quiet else None)
    # Rich drops a quiet console's output before recording it, so print into a buffer instead.
    return Console(record=record, highlight=False, width=chosen,
                   file=io.StringIO() if quiet else None)


def sub(n: int | str) -> str:
    """n as subscript digits."""
    return str(n).translate(SUBSCRIPTS)


def num(v: float | None, digits: int = 4) -> str:
    """A number for a table: 4 significant digits, e-notation when tiny or huge."""
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if v == 0:
        return "0"
    a = abs(v)
    text = f"{v:.{digits}g}" if 0.001 <= a < 100000.0 else f"{v:.{max(digits - 2, 1)}e}"
    return text


def short(v: float) -> str:
    """A number inside a formula: 3 significant digits."""
    return num(v, 3)


def log_bar(value: float, low: float, high: float, width: int = BAR_WIDTH) -> Text:
    """A bar whose length is log-proportional to ``value`` within [low, high]."""
    if not math.isfinite(value):
        return Text("non-finite", style="bold red")
    if value <= 0:
        return Text("0", style="dim")
    if high <= low:
        frac = 1.0
    else:
        frac = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    n = max(1, round(frac * width))
    return Text("█" * n, style="cyan") + Text("·" * (width - n), style="dim")


def bar_range(values: Sequence[float]) -> tuple[float, float]:
    """The smallest and largest finite positive values (the ends of a log bar)."""
    good = [v for v in values if math.isfinite(v) and v > 0]
    if not good:
        return (1.0, 1.0)
    high = max(good)
    return min(min(good), high / 10**MIN_DECADES), high


def header(report: Report, title: str, model: str) -> Panel:
    """The model, the loss, and where and how the run was computed."""
    s = report.settings
    dev = report.device
    where = dev["type"] if dev["type"] == "cpu" else s["device"]
    lines = [
        Text.assemble(("model  ", "bold"), model),
        Text.assemble(("φ      ", "bold"), ACTIVATIONS[s["activation"]].formula),
        Text.assemble(("loss   ", "bold"), LOSSES[s["loss"]].formula, f"   n = {_n(report)}"),
        Text.assemble(
            ("run    ", "bold"),
            f"{where} ({dev['name']}) · {s['dtype']} · seed {s['seed']} · init {s['init']} "
            f"(gain {num(s['gain'])}) · bias {'on' if s['bias'] else 'off'} · batch {s['batch']}",
        ),
    ]
    return Panel(Group(*lines), title=f"[bold]percgrad {report.command}[/] — {title}",
                 title_align="left", border_style="blue", expand=False)


def _n(report: Report) -> int:
    return int(report.settings["batch"]) * int(report.settings["outputs"])


def vector(values: np.ndarray, edge: int = 4) -> str:
    """[0.54, −1.2, 2] (elided in the middle when long)."""
    flat = list(np.asarray(values).ravel())
    if len(flat) > 2 * edge + 1:
        parts = [short(v) for v in flat[:edge]] + ["…"] + [short(v) for v in flat[-edge:]]
    else:
        parts = [short(v) for v in flat]
    return "[" + ", ".join(parts) + "]"


def forward_table(report: Report) -> Table:
    """The forward pass sample by sample: x, a, o, t and the loss."""
    table = styled_table("Forward pass")
    table.add_column("sample", justify="right")
    table.add_column("x")
    table.add_column("a = x·wᵀ" + (" + b" if report.settings["bias"] else ""), justify="right")
    table.add_column("o = φ(a)", justify="right")
    table.add_column("t", justify="right")
    table.add_column("∂E/∂o", justify="right")
    table.add_column("∂o/∂a", justify="right")
    table.add_column("δ = ∂E/∂a", justify="right")
    assert report.input is not None and report.out is not None and report.output is not None
    assert report.target is not None
    rows = report.input.shape[0]
    shown = range(rows) if rows <= 8 else [*range(4), -1, *range(rows - 3, rows)]
    for b in shown:
        if b == -1:
            table.add_row(*["…"] * 8)
            continue
        out = report.out
        table.add_row(
            str(b), vector(report.input[b]), vector(out.pre[b]),
            vector(report.output[b]), vector(report.target[b]),
            vector(out.dE_do[b]), vector(out.do_da[b]), vector(out.delta[b]),
        )
    table.caption = f"E = {num(report.loss, 6)}"
    table.caption_justify = "left"
    return table


def _entry_rel(a: np.ndarray, b: np.ndarray | None, floor: float) -> np.ndarray:
    if b is None:
        return np.zeros_like(a)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return np.abs(a - b) / scale


def single_table(report: Report) -> Table:
    """One row per weight: the chain-rule factors, then the three gradients and their gaps."""
    layer = report.layers[0]
    g = layer.grad
    assert g.analytic is not None and g.autograd is not None and layer.weight is not None
    assert report.out is not None and report.input is not None
    one = report.input.shape[0] == 1
    table = styled_table("Gradient of every weight")
    table.add_column("j", justify="right")
    if one:
        table.add_column("x_j", justify="right")
    table.add_column("w_j", justify="right")
    if one:
        table.add_column("∂E/∂o", justify="right")
        table.add_column("∂o/∂a", justify="right")
        table.add_column("∂a/∂w_j", justify="right")
    for name, style in (("analytic", "bold green"), ("autograd", "bold"), ("numeric", "bold")):
        table.add_column(name, justify="right", style=style if name == "analytic" else None)
    table.add_column("max|Δ|", justify="right")
    table.add_column("rel.err", justify="right")

    def add(label: str, x_val: float | None, w_val: float, da: float,
            an: float, ag: float, nu: float | None, excluded: bool = False) -> None:
        deltas = [abs(an - ag)] + ([abs(an - nu)] if nu is not None and not excluded else [])
        scale = max(abs(an), abs(ag), abs(nu or 0.0), 1e-300)
        cells = [label]
        if one:
            cells.append(num(x_val))
        cells.append(num(w_val))
        if one:
            cells += [num(float(out.dE_do[0, 0])), num(float(out.do_da[0, 0])), num(da)]
        shown_nu = num(nu, 5) + (" ⚑" if excluded else "")
        cells += [num(an, 5), num(ag, 5), shown_nu, num(max(deltas), 2), num(max(deltas) / scale, 2)]
        table.add_row(*cells)

    out = report.out
    n_inputs = layer.shape[1]
    for j in range(n_inputs):
        nu = None if g.numeric is None else float(g.numeric[0, j])
        left_out = g.excluded is not None and bool(g.excluded[0, j])
        x_val = float(report.input[0, j])
        add(str(j), x_val, float(layer.weight[0, j]), x_val,
            float(g.analytic[0, j]), float(g.autograd[0, j]), nu, left_out)
    if layer.bias is not None and layer.bias_grad is not None:
        bg = layer.bias_grad
        assert bg.analytic is not None and bg.autograd is not None
        nu = None if bg.numeric is None else float(bg.numeric[0])
        left_out = bg.excluded is not None and bool(bg.excluded[0])
        add("b", None, float(layer.bias[0]), 1.0, float(bg.analytic[0]), float(bg.autograd[0]), nu,
            left_out)
    notes = []
    if not one:
        notes.append("with a batch: ∂E/∂w_j = Σ_b δ_b·x_bj (δ per sample above)")
    if g.excluded is not None and bool(g.excluded.any()):
        notes.append("⚑ left out of the check: the finite difference straddles a kink or never settled")
    if notes:
        table.caption = " · ".join(notes)
        table.caption_justify = "left"
    return table


def _loss_factor(report: Report) -> tuple[str, str]:
    """∂E/∂o · ∂o/∂a as a formula, and how to put numbers in it (with {o}, {t}, {f})."""
    s = report.settings
    n = _n(report)
    scale = "" if n == 1 else f"/{n}"
    if LOSSES[s["loss"]].cancels_sigmoid:
        return f"(o−t){scale}", f"({{o}}−{{t}}){scale}"
    two = "2" if n == 1 else f"(2/{n})"
    return f"{two}(o−t)·{ACTIVATIONS[s['activation']].dphi_of_output}", f"{two}({{o}}−{{t}})·{{f}}"


def derivation_single(report: Report) -> Panel:
    """∂E/∂w₀ by the chain rule, with the numbers put in."""
    assert report.out is not None and report.input is not None and report.output is not None
    assert report.target is not None
    s = report.settings
    layer = report.layers[0]
    assert layer.grad.analytic is not None
    symbolic, numbers = _loss_factor(report)
    rows = report.input.shape[0]
    lines: list[RenderableType] = []
    if s["loss"] == "bce":
        lines.append(Text(
            "bce with a sigmoid output: ∂E/∂o = (o−t)/(n·o(1−o)) and ∂o/∂a = o(1−o), so σ′ cancels: "
            "∂E/∂a = (o−t)/n.", style="italic"))
    terms = []
    for b in range(min(rows, 3)):
        o, t = float(report.output[b, 0]), float(report.target[b, 0])
        f = float(report.out.do_da[b, 0])
        x0 = float(report.input[b, 0])
        terms.append(numbers.format(o=short(o), t=short(t), f=short(f)) + f"·{short(x0)}")
    total = float(layer.grad.analytic[0, 0])
    if rows == 1:
        eq = f"∂E/∂w₀ = {symbolic}·x₀ = {terms[0]} = {num(total)}"
    else:
        more = " + …" if rows > 3 else ""
        eq = f"∂E/∂w₀ = Σ_b {symbolic}·x_b0 = {' + '.join(terms)}{more} = {num(total)}"
    lines.append(Text(eq))
    lines.append(Text(
        f"‖∂E/∂W‖ = {num(layer.grad_norm)}   ‖δ‖ = ‖∂E/∂a‖ = {num(layer.delta_norm)}", style="dim"
    ))
    return Panel(Group(*lines), title="Chain rule for one weight", title_align="left",
                 expand=False)


def single(report: Report) -> list[RenderableType]:
    """Everything ``percgrad single`` shows."""
    sym = symbol(report.settings["activation"])
    b = " + b" if report.settings["bias"] else ""
    parts: list[RenderableType] = [
        header(report, "one neuron", f"o = {sym}(x·wᵀ{b})   (w: 1×{report.layers[0].shape[1]})"),
    ]
    parts += _body_or_notice(report, lambda: [
        forward_table(report), single_table(report), derivation_single(report),
    ])
    parts += verdict(report)
    return parts


def _body_or_notice(
    report: Report, body: Callable[[], list[RenderableType]]
) -> list[RenderableType]:
    if not report.settings.get("tensors", True) or report.input is None:
        return []
    return list(body())


def _model_formula(report: Report) -> str:
    s = report.settings
    sym = symbol(s["activation"])
    b = "+b{k}" if s["bias"] else ""
    depth = len(report.layers)
    if depth == 1:
        return f"o = {sym}(W₁x{b.format(k='₁')})"
    parts = []
    prev = "x"
    for k in range(1, depth + 1):
        out = "o" if k == depth else f"h{sub(k)}"
        parts.append(f"{out} = {sym}(W{sub(k)}{prev}{b.format(k=sub(k))})")
        prev = out
    return ",  ".join(parts)


def derivation_multi(report: Report) -> Panel:
    """The backward pass in matrix form, with the symbols of this network."""
    s = report.settings
    depth = len(report.layers)
    n = _n(report)
    act = s["activation"]
    sym = symbol(act)
    L = sub(depth)
    lines: list[str] = []
    dphi_out = ACTIVATIONS[act].dphi_of_output.replace("o(1−o)", "o ⊙ (1−o)")
    if LOSSES[s["loss"]].cancels_sigmoid:
        lines.append(f"δ{L} = ∂E/∂a{L} = (o−t)/{n}          (bce: σ′ cancels)")
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


def matrix_format(values: np.ndarray) -> Callable[[float], str]:
    """One format for a whole matrix, as NumPy prints: fixed decimals when the magnitudes allow,
    else scientific, so that columns line up."""
    finite = np.abs(values[np.isfinite(values) & (values != 0)])
    if finite.size == 0:
        return lambda v: num(v)
    high, low = float(finite.max()), float(finite.min())
    if low >= 1e-3 and high < 1e4:
        decimals = min(6, max(0, 3 - math.floor(math.log10(high))))
        return lambda v: f"{v:.{decimals}f}" if math.isfinite(v) else num(v)
    return lambda v: f"{v:.3e}" if math.isfinite(v) and v != 0 else num(v)


def matrix(values: np.ndarray | None, title: str, edge: int = EDGE) -> RenderableType:
    """A matrix as a borderless table, elided in the middle like NumPy, titled with its shape."""
    if values is None:
        return Text(f"{title}\n—", style="dim")
    m = np.atleast_2d(values)
    fmt = matrix_format(m)
    rows, cols = m.shape
    r_idx: list[int | None] = list(range(rows)) if rows <= 2 * edge else [
        *range(edge), None, *range(rows - edge, rows)]
    c_idx: list[int | None] = list(range(cols)) if cols <= 2 * edge else [
        *range(edge), None, *range(cols - edge, cols)]
    table = Table(title=f"{title} ({rows}×{cols})", show_header=False, box=None, padding=(0, 1),
                  title_justify="left")
    for _ in c_idx:
        table.add_column(justify="right", no_wrap=True)
    for r in r_idx:
        if r is None:
            table.add_row(*["⋮" for _ in c_idx])
        else:
            table.add_row(*["…" if c is None else fmt(float(m[r, c])) for c in c_idx])
    return table


def layer_matrices(layer: LayerReport) -> Columns:
    """The weight matrix and the three gradient matrices of one layer, side by side (wrapped
    onto more lines when the terminal is narrow)."""
    g = layer.grad
    return Columns(
        [
            matrix(layer.weight, layer.name),
            matrix(g.analytic, f"∂E/∂{layer.name} analytic"),
            matrix(g.autograd, f"∂E/∂{layer.name} autograd"),
            matrix(g.numeric, f"∂E/∂{layer.name} numeric"),
        ],
        padding=(1, 3),
    )


def _rel(cmp: Comparison | None) -> float | None:
    return None if cmp is None else cmp.rel_error


def summary_table(report: Report) -> Table:
    """Per layer: shape, norms three ways, ‖δ‖, the largest gaps and a log-scale bar."""
    table = numbers_table("Per-layer summary", [
        "layer", "shape", "‖W‖", "‖∂E/∂W‖ analytic", "autograd", "numeric", "‖δ‖", "max|Δ|",
        "rel.err"], left=2)
    low, high = bar_range([layer.grad_norm for layer in report.layers])
    table.add_column("log ‖∂E/∂W‖", no_wrap=True)
    table.caption = f"bars: log scale {num(low, 1)} … {num(high, 2)}"
    table.caption_justify = "left"
    for layer in report.layers:
        rel = max(
            (r for r in (_rel(layer.vs_autograd), _rel(layer.vs_numeric)) if r is not None),
            default=None,
        )
        gap = max(layer.vs_autograd.max_abs_diff,
                  layer.vs_numeric.max_abs_diff if layer.vs_numeric else 0.0)
        table.add_row(
            layer.name, f"{layer.shape[0]}×{layer.shape[1]}", num(layer.weight_norm, 3),
            num(layer.grad_norm_analytic), num(layer.grad_norm), num(layer.grad_norm_numeric),
            num(layer.delta_norm, 3), num(gap, 2), num(rel, 2),
            log_bar(layer.grad_norm, low, high, width=VANISH_BAR),
        )
    return table


def multi(report: Report) -> list[RenderableType]:
    """Everything ``percgrad multi`` shows."""
    shapes = " → ".join(str(layer.shape[1]) for layer in report.layers)
    shapes += f" → {report.layers[-1].shape[0]}"
    parts: list[RenderableType] = [
        header(report, f"perceptron {shapes}", _model_formula(report)),
        derivation_multi(report),
    ]
    for layer in report.layers:
        parts.append(layer_matrices(layer))
    parts.append(summary_table(report))
    parts += verdict(report)
    return parts


def verdict(report: Report) -> list[RenderableType]:
    """Warnings, then one line: passed, failed (and where), or not applicable."""
    c = report.check
    s = report.settings
    parts: list[RenderableType] = [Text(f"⚠ {render_text.notice(w)}", style="yellow")
                                   for w in report.warnings]
    left_out = c.kinks + c.unresolved
    if c.method == "off":
        what = "autograd (finite differences off)"
    elif c.method == "fast":
        used = len(c.directions or []) - left_out
        what = (f"autograd and {used} random-direction finite difference(s)" if used > 0
                else "autograd (no random-direction finite difference settled)")
    else:
        what = "autograd and every finite difference" + (
            f" that settled ({left_out} left out)" if left_out else "")
    if c.passed is None:
        parts.append(Text("? check not applicable: the run is not finite.", style="bold yellow"))
    elif c.passed:
        parts.append(Text.assemble(
            ("✔ PASS ", "bold green"),
            f"the hand-derived gradient matches {what}: max relative error "
            f"{num(c.max_rel_error, 2)} ≤ {num(c.tolerance, 1)} ({s['dtype']})",
        ))
    else:
        parts.append(Text.assemble(
            ("✘ FAIL ", "bold red"),
            f"max relative error {num(c.max_rel_error, 2)} > {num(c.tolerance, 1)} ({s['dtype']})",
        ))
        for f in c.failures[:10]:
            parts.append(Text(f"  • {render_text.mismatch(f)}", style="red"))
    t = report.timing
    if t:
        parts.append(Text(
            "time: forward {:.2g} s · analytic {:.2g} s · autograd {:.2g} s · numeric {:.2g} s".format(
                t["forward_s"], t["analytic_s"], t["autograd_s"], t["numeric_s"]),
            style="dim",
        ))
    return parts


def styled_table(title: str) -> Table:
    """The house style: bold title on the left, a rule under the header, no side borders."""
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                 pad_edge=False, collapse_padding=True, show_edge=False)


def numbers_table(title: str, columns: list[str], left: int = 1) -> Table:
    """A compact table whose first ``left`` columns are labels and the rest numbers (right
    aligned, never wrapped)."""
    table = styled_table(title)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < left else "right", no_wrap=True)
    return table


def renderables(report: Report) -> Group:
    """Everything the CLI prints for ``report``, as one renderable."""
    if report.command == "vanish":
        from percgrad import render_vanish

        return Group(*render_vanish.vanish(report))
    parts = single(report) if report.command == "single" else multi(report)
    return Group(*parts)


def to_html(report: Report, width: int = 120) -> str:
    """The same as HTML (a notebook cell's display), rendered at ``width`` columns."""
    console = Console(record=True, width=width, file=io.StringIO(), highlight=False)
    console.print(renderables(report))
    return console.export_html(inline_styles=True)
