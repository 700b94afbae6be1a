"""What ``single`` and ``multi`` show: the header, the forward-pass and gradient tables, the
layer matrices and the per-layer summary (Rich renderables, returned, never printed here)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from percgrad.catalog import ACTIVATIONS, LOSSES
from percgrad.reports.numbers import num, sub
from percgrad.reports.run import Comparison, Report
from percgrad.views.chain_rule import delta_numbers, derivation_multi, derivation_single, loss_n
from percgrad.views.fit import PREFERRED, Column, FitTable
from percgrad.views.format import VANISH_BAR, bar_range, bars_caption, log_bar, symbol, vector
from percgrad.views.matrices import layer_matrices
from percgrad.views.verdict import FAILURES_SHOWN, verdict
from percgrad.views.worked import Worked, multi_lines

REL_HEADER = "rel.err\n(layer)"
REL_LEGEND = ("rel.err (layer): the row's `|a−b|` over the layer's largest `|a|, |b|`, as the "
              "check computes it")
SUMMARY_LEGEND = "rel.err: `max|a−b| / max(|a|, |b|)`, both over the layer, as the check computes it"


def header(report: Report, title: str, model: str) -> Panel:
    """The model, the loss, and where and how the run was computed."""
    s = report.settings
    dev = report.device
    where = dev["type"] if dev["type"] == "cpu" else s["device"]
    lines = [
        Text.assemble(("model  ", "bold"), model),
        Text.assemble(("φ      ", "bold"), ACTIVATIONS[s["activation"]].formula),
        Text.assemble(("loss   ", "bold"), LOSSES[s["loss"]].formula, f"   n = {loss_n(report)}"),
        Text.assemble(("run    ", "bold"), f"{where} ({dev['name']}) · {s['dtype']} · seed {s['seed']}"),
        Text.assemble(("init   ", "bold"), f"{s['init']} (gain {num(s['gain'])}) · bias "
                      f"{'on' if s['bias'] else 'off'} · batch {s['batch']}"),
    ]
    return Panel(Group(*lines), title=f"[bold]percgrad {report.command}[/] — {title}",
                 title_align="left", border_style="blue", expand=False)


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
    mistake = report.settings.get("mistake")
    columns = [
        Column("sample", col(str)),
        Column("x", col(lambda b: vector(x[b])), justify="left", wrap=True),
        Column(f"a = x·wᵀ{b_term}", col(lambda b: num(float(out.pre[b, 0])))),
        Column("o = φ(a)", col(lambda b: num(float(report.output[b, 0])))),  # type: ignore[index]
        *([Column("t", col(lambda b: num(float(report.target[b, 0]))))]  # type: ignore[index]
          if LOSSES[report.settings["loss"]].uses_target else []),
        Column("∂E/∂o", col(lambda b: num(float(out.dE_do[b, 0]))), drop=1),
        Column("∂o/∂a", col(lambda b: num(float(out.do_da[b, 0]))), drop=2),
        Column("δ = ∂E/∂a" if not mistake else "δ ✗", col(lambda b: num(float(out.delta[b, 0])))),
    ]
    caption = [f"`E = {num(report.loss, 6)}`"]
    if mistake:
        caption.append(f"δ ✗: the hand-derived δ, with --mistake {mistake} planted (the true "
                       "`δ = ∂E/∂a = ∂E/∂o·∂o/∂a`)")
    return FitTable("Forward pass", columns, caption=caption)


def single_table(report: Report) -> FitTable:
    """One row per weight: the chain-rule factors, then the three gradients and their gaps."""
    layer = report.layers[0]
    g = layer.grad
    assert g.analytic is not None and g.autograd is not None and layer.weight is not None
    assert report.out is not None and report.input is not None
    out = report.out
    one = report.input.shape[0] == 1
    rows: list[dict[str, str]] = []
    # The check's relative error: |a_j − b_j| over the layer's largest magnitude, not the
    # row's (so the column's largest value is the closing line's maximum); the header and the
    # legend say so.
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
        Column(REL_HEADER, col("rel"), legend=REL_LEGEND),
    ]
    notes = []
    if not one:
        notes.append("with a batch: `∂E/∂w_j = Σ_b δ_b·x_bj` (δ per sample above)")
    if g.excluded is not None and bool(g.excluded.any()):
        notes.append("⚑ left out of the check: the finite difference straddles a kink or never settled")
    return FitTable("Gradient of every weight", columns, caption=notes)


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
    return FitTable("Forward pass", columns, caption=caption, wrap_from=PREFERRED)


def _layer_rows_of(n: int, most: int = 40) -> list[int | None]:
    if n <= most:
        return list(range(n))
    half = most // 2
    return [*range(half), None, *range(n - half, n)]


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
        Column("rel.err", rels, legend=SUMMARY_LEGEND),
        Column("log ‖∂E/∂W‖", [log_bar(layer.grad_norm, low, high, width=VANISH_BAR)
                               for layer in layers], justify="left", drop=6, what="the bars",
               legend=bars_caption([layer.grad_norm for layer in layers])),
    ]
    return FitTable("Per-layer summary", columns)


_ENTRY = re.compile(r"^W(\d+)\[(\d+),(\d+)\]$")


def cited_entries(report: Report, lines: list[Worked]) -> dict[int, list[tuple[int, int]]]:
    """Per 0-based layer, the ∂E/∂W entries (row, column) that the worked lines cite and the
    check's failures name: the matrices always show them."""
    cited: dict[int, list[tuple[int, int]]] = {}
    for line in lines:
        for c in line.cites:
            cited.setdefault(c.layer, []).append((c.row, c.col))
    for f in report.check.failures[:FAILURES_SHOWN]:
        m = _ENTRY.match(f.entry or "")
        if m and f.layer is not None:
            cited.setdefault(int(m.group(1)) - 1, []).append((int(m.group(2)), int(m.group(3))))
    return cited


def multi(report: Report) -> list[RenderableType]:
    """Everything ``percgrad multi`` shows."""
    shapes = " → ".join(str(layer.shape[1]) for layer in report.layers)
    shapes += f" → {report.layers[-1].shape[0]}"
    parts: list[RenderableType] = [
        header(report, f"perceptron {shapes}", _model_formula(report)),
        forward_layers(report),
        derivation_multi(report),
    ]
    lines = multi_lines(report)
    numbers = delta_numbers(report, lines)
    if numbers is not None:
        parts.append(numbers)
    cited = cited_entries(report, lines or [])
    for k, layer in enumerate(report.layers):
        parts.append(layer_matrices(layer, cited.get(k, [])))
    parts.append(summary_table(report))
    parts += verdict(report)
    return parts
