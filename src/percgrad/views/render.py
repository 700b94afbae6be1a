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

from percgrad.catalog import ACTIVATIONS, LOSSES
from percgrad.reports import sentences
from percgrad.reports.numbers import figure, num, sig, sub
from percgrad.reports.run import Comparison, LayerReport, Report
from percgrad.views.fit import Column, FitTable, Fitted, Prose

BAR_WIDTH = 24
VANISH_BAR = 14
MIN_DECADES = 2
"""A log bar spans at least this many decades, so that small differences look small."""
EDGE = 3
"""Rows and columns shown at each end of an elided matrix."""

def symbol(activation: str) -> str:
    """φ's symbol in formulas (σ, tanh, relu …)."""
    return ACTIVATIONS[activation].symbol


def make_console(record: bool = False, quiet: bool = False, width: int | None = None) -> Console:
    """The stdout console (``quiet``: records into a buffer, prints nothing). Its width: COLUMNS
    when set, else ``width`` (the output's natural width, for files and --save), else the
    terminal's."""
    columns = os.environ.get("COLUMNS", "")
    chosen = int(columns) if columns.isdigit() and int(columns) > 0 and not record else width
    # Rich drops a quiet console's output before recording it, so print into a buffer instead.
    return Console(record=record, highlight=False, width=chosen,
                   file=io.StringIO() if quiet else None)


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
        Text.assemble(("run    ", "bold"), f"{where} ({dev['name']}) · {s['dtype']} · seed {s['seed']}"),
        Text.assemble(("init   ", "bold"), f"{s['init']} (gain {num(s['gain'])}) · bias "
                      f"{'on' if s['bias'] else 'off'} · batch {s['batch']}"),
    ]
    return Panel(Group(*lines), title=f"[bold]percgrad {report.command}[/] — {title}",
                 title_align="left", border_style="blue", expand=False)


def _n(report: Report) -> int:
    return int(report.settings["batch"]) * int(report.settings["outputs"])


def vector(values: np.ndarray, edge: int = 4, digits: int = 3) -> str:
    """[0.54, −1.2, 2] (elided in the middle when long, like NumPy)."""
    flat = list(np.asarray(values).ravel())
    if len(flat) > 2 * edge + 1:
        parts = [num(v, digits) for v in flat[:edge]] + ["…"] + [num(v, digits) for v in flat[-edge:]]
    else:
        parts = [num(v, digits) for v in flat]
    return "[" + ", ".join(parts) + "]"


def _sample_rows(rows: int) -> list[int | None]:
    return list(range(rows)) if rows <= 8 else [*range(4), None, *range(rows - 3, rows)]


def forward_table(report: Report) -> FitTable:
    """The single neuron's forward pass sample by sample: x, a, o, t, and the loss."""
    assert report.input is not None and report.out is not None and report.output is not None
    assert report.target is not None
    out, x = report.out, report.input
    shown = _sample_rows(x.shape[0])

    def col(values: Callable[[int], str]) -> list[str]:
        return ["…" if b is None else values(b) for b in shown]

    b_term = " + b" if report.settings["bias"] else ""
    columns = [
        Column("sample", col(str)),
        Column("x", col(lambda b: vector(x[b])), justify="left", wrap=True),
        Column(f"a = x·wᵀ{b_term}", col(lambda b: num(float(out.pre[b, 0])))),
        Column("o = φ(a)", col(lambda b: num(float(report.output[b, 0])))),  # type: ignore[index]
        *([Column("t", col(lambda b: num(float(report.target[b, 0]))))]  # type: ignore[index]
          if LOSSES[report.settings["loss"]].uses_target else []),
        Column("∂E/∂o", col(lambda b: num(float(out.dE_do[b, 0]))), drop=1),
        Column("∂o/∂a", col(lambda b: num(float(out.do_da[b, 0]))), drop=2),
        Column("δ = ∂E/∂a", col(lambda b: num(float(out.delta[b, 0])))),
    ]
    return FitTable("Forward pass", columns, caption=[f"`E = {num(report.loss, 6)}`"])


def single_table(report: Report) -> FitTable:
    """One row per weight: the chain-rule factors, then the three gradients and their gaps."""
    layer = report.layers[0]
    g = layer.grad
    assert g.analytic is not None and g.autograd is not None and layer.weight is not None
    assert report.out is not None and report.input is not None
    out = report.out
    one = report.input.shape[0] == 1
    rows: list[dict[str, str]] = []
    # The check's relative error: |a_j − b_j| over the layer's largest magnitude (so the
    # column's largest value is the closing line's maximum).
    values = [v for t in (g.analytic, g.autograd, g.numeric) if t is not None for v in t.ravel()]
    if layer.bias_grad is not None:
        bt = layer.bias_grad
        values += [v for t in (bt.analytic, bt.autograd, bt.numeric) if t is not None for v in t.ravel()]
    layer_scale = max([abs(float(v)) for v in values] + [1e-300])

    def add(label: str, x_val: float | None, w_val: float, da: float,
            an: float, ag: float, nu: float | None, excluded: bool = False) -> None:
        deltas = [abs(an - ag)] + ([abs(an - nu)] if nu is not None and not excluded else [])
        scale = layer_scale
        rows.append({
            "j": label, "x": num(x_val), "w": num(w_val),
            "dEdo": num(float(out.dE_do[0, 0])), "doda": num(float(out.do_da[0, 0])),
            "da": num(da), "an": num(an, 5), "ag": num(ag, 5),
            "nu": num(nu, 5) + (" ⚑" if excluded else ""),
            "gap": num(max(deltas), 2), "rel": num(max(deltas) / scale, 2),
        })

    for j in range(layer.shape[1]):
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

    def col(key: str) -> list[str]:
        return [r[key] for r in rows]

    columns = [Column("j", col("j"))]
    if one:
        columns.append(Column("x_j", col("x"), drop=3))
    columns.append(Column("w_j", col("w")))
    if one:
        columns += [Column("∂E/∂o", col("dEdo"), drop=5), Column("∂o/∂a", col("doda"), drop=5),
                    Column("∂a/∂w_j", col("da"), drop=6, what="∂a/∂w_j (= x_j)")]
    columns += [
        Column("analytic", col("an"), style="bold green"),
        Column("autograd", col("ag")),
        Column("numeric", col("nu")),
        Column("max|Δ|", col("gap"), drop=4),
        Column("rel.err", col("rel")),
    ]
    notes = []
    if not one:
        notes.append("with a batch: `∂E/∂w_j = Σ_b δ_b·x_bj` (δ per sample above)")
    if g.excluded is not None and bool(g.excluded.any()):
        notes.append("⚑ left out of the check: the finite difference straddles a kink or never settled")
    return FitTable("Gradient of every weight", columns, caption=notes)


def _dphi_symbol(activation: str) -> str:
    return f"{symbol(activation)}′(a)"


def chain_line(report: Report, b: int, j: int, name: str, x_val: float, total: float | None) -> str:
    """∂E/∂w_j for sample b, symbolic, then the printed factors, then the result: the factors
    multiply out to the result within its printed precision."""
    assert report.out is not None and report.output is not None and report.target is not None
    s = report.settings
    loss = LOSSES[s["loss"]]
    n = _n(report)
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


def forward_layers(report: Report, label: Callable[[int], str] | None = None) -> FitTable:
    """The forward pass layer by layer for the first sample: a_k and h_k (elided like NumPy),
    then o, t and E (``label(k)`` names layer k; default: its formula)."""
    s = report.settings
    sym = symbol(s["activation"])
    depth = len(report.layers)
    names, pres, posts, sizes = [], [], [], []
    for k in _layer_rows_of(depth):
        if k is None:
            names.append("⋮")
            pres.append("⋮")
            posts.append("⋮")
            sizes.append("")
            continue
        layer = report.layers[k]
        h = "o" if k == depth - 1 else f"h{sub(k + 1)}"
        prev = "x" if k == 0 else f"h{sub(k)}"
        names.append(label(k) if label else f"{h} = {sym}(W{sub(k + 1)}{prev}{'+b' if s['bias'] else ''})")
        pres.append("—" if layer.pre is None else vector(layer.pre[0]))
        sample = layer.post if layer.post is not None else (
            None if layer.post_sample is None else layer.post_sample[None, :])
        posts.append("—" if sample is None else vector(sample[0]))
        sizes.append("—" if sample is None else num(float(np.sqrt(np.mean(np.square(sample[0])))), 3))
    columns = [Column("layer", names, justify="left")]
    if any(p not in ("—", "⋮") for p in pres):
        columns.append(Column("a_k = W_k h_k−1 (sample 0)", pres, justify="left", wrap=True, drop=2))
    columns += [
        Column("h_k (sample 0)", posts, justify="left", wrap=True),
        Column("rms h_k", sizes, drop=1),
    ]
    caption = []
    if report.input is not None:
        caption.append(f"`x = {vector(report.input[0])}`")
    if report.target is not None and s["loss"] != "sum":
        caption.append(f"`t = {vector(report.target[0])}`")
    caption.append(f"`E = {num(report.loss, 6)}`")
    return FitTable("Forward pass", columns, caption=caption)


def _layer_rows_of(n: int, most: int = 40) -> list[int | None]:
    if n <= most:
        return list(range(n))
    half = most // 2
    return [*range(half), None, *range(n - half, n)]


def delta_numbers(report: Report) -> Panel | None:
    """The δ recursion with the numbers of its largest entry put in, layer by layer from the
    output, and the weight gradient it gives (the factors multiply out to the results)."""
    layers = report.layers
    if any(layer.delta is None or layer.dphi is None or layer.weight is None or layer.post is None
           for layer in layers) or report.input is None or report.output is None:
        return None
    s = report.settings
    loss = LOSSES[s["loss"]]
    n = _n(report)
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


def _matrix_table(m: np.ndarray, title: str, edge_rows: int, edge_cols: int) -> Table:
    fmt = matrix_format(m)
    rows, cols = m.shape
    r_idx: list[int | None] = list(range(rows)) if rows <= 2 * edge_rows else [
        *range(edge_rows), None, *range(rows - edge_rows, rows)]
    c_idx: list[int | None] = list(range(cols)) if cols <= 2 * edge_cols else [
        *range(edge_cols), None, *range(cols - edge_cols, cols)]
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


def matrix(values: np.ndarray | None, title: str, edge: int = EDGE) -> RenderableType:
    """A matrix as a borderless table, elided in the middle like NumPy, titled with its shape;
    on a narrow screen fewer columns are shown (never a cut number)."""
    if values is None:
        return Text(f"{title}\n—", style="dim")
    m = np.atleast_2d(values)
    cell = max(len(matrix_format(m)(float(v))) for v in m.ravel()[:4096]) + 2

    def build(width: int) -> RenderableType:
        for cols in range(edge, 0, -1):
            shown = min(m.shape[1], 2 * cols + (1 if m.shape[1] > 2 * cols else 0))
            if shown * cell <= width or cols == 1:
                return _matrix_table(m, title, edge, cols)
        return _matrix_table(m, title, edge, 1)

    return Fitted(build)


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


def summary_table(report: Report) -> FitTable:
    """Per layer: shape, norms three ways, ‖δ‖, the largest gaps and a log-scale bar."""
    layers = report.layers
    low, high = bar_range([layer.grad_norm for layer in layers])
    rels, gaps = [], []
    for layer in layers:
        rel = max((r for r in (_rel(layer.vs_autograd), _rel(layer.vs_numeric)) if r is not None),
                  default=None)
        rels.append(num(rel, 2))
        gaps.append(num(max(layer.vs_autograd.max_abs_diff,
                            layer.vs_numeric.max_abs_diff if layer.vs_numeric else 0.0), 2))
    columns = [
        Column("layer", [layer.name for layer in layers], justify="left"),
        Column("shape", [f"{layer.shape[0]}×{layer.shape[1]}" for layer in layers],
               justify="left", drop=3),
        Column("‖W‖", [num(layer.weight_norm, 3) for layer in layers], drop=4),
        Column("‖∂E/∂W‖ analytic", [num(layer.grad_norm_analytic) for layer in layers]),
        Column("autograd", [num(layer.grad_norm) for layer in layers], drop=2),
        Column("numeric", [num(layer.grad_norm_numeric) for layer in layers], drop=2),
        Column("‖δ‖", [num(layer.delta_norm, 3) for layer in layers]),
        Column("max|Δ|", gaps, drop=5),
        Column("rel.err", rels),
        Column("log ‖∂E/∂W‖", [log_bar(layer.grad_norm, low, high, width=VANISH_BAR)
                               for layer in layers], justify="left", drop=6, what="the bars",
               legend=f"bars: log scale {num(low, 1)} … {num(high, 2)}"),
    ]
    return FitTable("Per-layer summary", columns)


def multi(report: Report) -> list[RenderableType]:
    """Everything ``percgrad multi`` shows."""
    shapes = " → ".join(str(layer.shape[1]) for layer in report.layers)
    shapes += f" → {report.layers[-1].shape[0]}"
    parts: list[RenderableType] = [
        header(report, f"perceptron {shapes}", _model_formula(report)),
        forward_layers(report),
        derivation_multi(report),
    ]
    numbers = delta_numbers(report)
    if numbers is not None:
        parts.append(numbers)
    for layer in report.layers:
        parts.append(layer_matrices(layer))
    parts.append(summary_table(report))
    parts += verdict(report)
    return parts


def verdict(report: Report) -> list[RenderableType]:
    """Warnings, then one line: passed, failed (and where), vacuous, inconclusive or not
    applicable; for a comparison, one status per run."""
    c = report.check
    s = report.settings
    parts: list[RenderableType] = [Text(f"⚠ {sentences.notice(w)}", style="yellow")
                                   for w in report.warnings]
    if report.runs:
        parts.append(_runs_line(report))
    elif c.vacuous:
        parts.append(Text.assemble(
            ("○ VACUOUS ", "bold yellow"),
            "every gradient is exactly 0, so analytic, autograd and the finite differences agree "
            "trivially: the check proves nothing about the derivation here."))
    elif c.inconclusive:
        parts.append(Text.assemble(
            ("? INCONCLUSIVE ", "bold yellow"),
            f"{c.kinks + c.unresolved} of {len(c.directions or [])} random-direction finite "
            "differences could not be trusted (see the warning); autograd agrees: max relative "
            f"error {num(c.max_rel_error, 2)}. Try --check full"
            + (" or --dtype float64." if s["dtype"] != "float64" else ".")))
    elif c.passed is None:
        parts.append(Text("? check not applicable: the run is not finite.", style="bold yellow"))
    elif c.passed:
        parts.append(Text.assemble(
            ("✔ PASS ", "bold green"),
            f"the hand-derived gradient matches {_checked_against(report)}: max relative error "
            f"{num(c.max_rel_error, 2)} ≤ {num(c.tolerance, 1)} ({s['dtype']})",
        ))
        if c.mistake is not None:
            parts.append(Text(f"  {sentences.mistake_missed(c.mistake)}", style="yellow"))
    else:
        parts.append(Text.assemble(
            ("✘ FAIL ", "bold red"),
            f"max relative error {num(c.max_rel_error, 2)} > {num(c.tolerance, 1)} ({s['dtype']})",
        ))
        for f in c.failures[:10]:
            parts.append(Text(f"  • {sentences.mismatch(f)}", style="red"))
        if c.mistake is not None:
            parts.append(Text(f"  {sentences.mistake_caught(c.mistake)}", style="bold"))
    t = report.timing
    if t:
        parts.append(Prose("time: " + " · ".join(
            f"`{name} {t[key]:.2g} s`" for name, key in (
                ("forward", "forward_s"), ("analytic", "analytic_s"), ("autograd", "autograd_s"),
                ("numeric", "numeric_s"))), style="dim"))
    return parts


def _checked_against(report: Report) -> str:
    c = report.check
    left_out = c.kinks + c.unresolved
    if c.method == "off":
        return "autograd (finite differences off)"
    if c.method == "fast":
        used = len(c.directions or []) - left_out
        return (f"autograd and {used} random-direction finite difference(s)" if used > 0
                else "autograd (no random-direction finite difference settled)")
    return "autograd and every finite difference" + (
        f" that settled ({left_out} left out)" if left_out else "")


def _status(r: Report) -> tuple[str, str]:
    c = r.check
    if c.vacuous:
        return "vacuous", "yellow"
    if c.inconclusive:
        return "inconclusive", "yellow"
    if c.passed is None:
        return "n/a (not finite)", "yellow"
    return ("pass", "green") if c.passed else ("FAIL", "bold red")


def _runs_line(report: Report) -> Text:
    """One status per compared run, then the worst relative error over those that ran."""
    c = report.check
    failed = c.passed is False
    line = Text.assemble(("✘ FAIL " if failed else "✔ checks ", "bold red" if failed else "bold green"))
    for i, r in enumerate(report.runs):
        status, style = _status(r)
        line.append(("" if i == 0 else " · ") + f"{r.label} ")
        line.append(status, style=style)
    if c.max_rel_error is not None:
        line.append(f"; max relative error {num(c.max_rel_error, 2)} "
                    f"{'>' if failed else '≤'} {num(c.tolerance, 1)} ({report.settings['dtype']})")
    return line


def styled_table(title: str) -> Table:
    """The house style: bold title on the left, a rule under the header, no side borders."""
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                 pad_edge=False, collapse_padding=True, show_edge=False)
