"""Rich renderables for ``vanish``: the per-layer flow table, the diagnosis, comparisons and
training history, built from a Report (returned, never printed here)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from percgrad.catalog import NORMS, describe, legend
from percgrad.reports import sentences
from percgrad.reports.numbers import num, sub
from percgrad.reports.run import LayerReport, Report
from percgrad.views.fit import Column, FitTable, Prose
from percgrad.views.format import VANISH_BAR, bar_range, log_bar, styled_table, symbol
from percgrad.views.perceptron import forward_layers, header
from percgrad.views.spectrum import spectrum_section
from percgrad.views.verdict import verdict

MAX_LAYER_ROWS = 40
SPARKS = "▁▂▃▄▅▆▇█"


def _layer_rows(n: int) -> list[int | None]:
    """Indices of the layers to show: all, or both ends with None for the elided middle."""
    if n <= MAX_LAYER_ROWS:
        return list(range(n))
    half = MAX_LAYER_ROWS // 2
    return [*range(half), None, *range(n - half, n)]


def sparkline(values: Sequence[float]) -> Text:
    """A sparkline of log10(values), scaled to their own range."""
    logs = [math.log10(v) if v > 0 and math.isfinite(v) else None for v in values]
    good = [v for v in logs if v is not None]
    if not good:
        return Text("—", style="dim")
    lo, hi = min(good), max(good)
    out = Text()
    for v in logs:
        if v is None:
            out.append("×", style="red")
        else:
            i = 0 if hi == lo else round((v - lo) / (hi - lo) * (len(SPARKS) - 1))
            out.append(SPARKS[i], style="cyan")
    return out


def _times(v: float | None) -> str:
    return "—" if v is None else f"{num(v, 2)} ×"


def vanish_table(report: Report) -> FitTable:
    """Per layer from the input side: magnitudes, saturation, measured vs predicted factors."""
    s = report.settings
    plain = s["arch"] == "plain"
    layers = report.layers
    low, high = bar_range([layer.grad_norm for layer in layers])
    last = layers[-1].grad_norm
    rows = _layer_rows(len(layers))

    def col(cell: Callable[[LayerReport, int], RenderableType]) -> list[RenderableType]:
        return ["⋮" if k is None else cell(layers[k], k) for k in rows]

    def bound(layer: LayerReport, k: int) -> str:
        if layer.bound is None:
            return "—"
        mark = "[green]✔[/]" if layer.bound_holds else ("[red]✘[/]" if layer.bound_holds is
                                                          False else "?")
        return f"{mark} {num(layer.bound, 2)}"

    columns = [
        Column("layer", col(lambda layer, k: f"{k + 1}")),
        Column("‖∂E/∂W‖", col(lambda layer, k: num(layer.grad_norm, 3))),
        Column("÷ last", col(lambda layer, k: num(_safe_ratio(layer.grad_norm, last), 2)), drop=3,
               legend="÷ last: the layer's ‖∂E/∂W‖ as a share of the last layer's"),
        Column("‖δ‖", col(lambda layer, k: num(layer.delta_norm, 3))),
        Column("mean|φ′|", col(lambda layer, k: num(layer.mean_abs_dphi, 3)), drop=4),
        Column("sat.", col(lambda layer, k: f"{layer.saturated:.0%}"), drop=2,
               legend=f"sat.: share of units with |φ′| below 10% of its max ({s['activation']})"),
        Column("measured", col(lambda layer, k: num(layer.measured_factor, 3)),
               legend="measured = `‖δ_k‖²/‖δ_k+1‖²`"),
        Column("predicted", col(lambda layer, k: num(layer.predicted_factor, 3)),
               legend=legend(s["norm"], s["residual"])),
    ]
    if plain:
        columns.append(Column("  bound", col(bound), drop=5, what="the bound",
                              legend="`bound: ‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖`"))
    columns.append(Column("log ‖∂E/∂W‖", col(lambda layer, k: log_bar(layer.grad_norm, low, high,
                                                                        width=VANISH_BAR)),
                          justify="left", drop=6, what="the bars",
                          legend=f"bars: log scale {num(low, 1)} … {num(high, 2)}"))
    hidden = len(layers) - MAX_LAYER_ROWS if len(layers) > MAX_LAYER_ROWS else 0
    caption = [f"{hidden} middle layers not shown (--json has all)"] if hidden else []
    caption.append("δ: the gradient a layer passes back, `∂E/∂a` (percgrad explain delta); χ: "
                   "mean-field theory's factor per layer for wide random layers, q the "
                   "pre-activations' variance (percgrad explain chi)")
    return FitTable("Per-layer gradient flow (layer 1 = input side)", columns, caption=caption)


def _safe_ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 and math.isfinite(a) and math.isfinite(b) else None


def vanish_summary(report: Report) -> Panel:
    """Overall decay, the per-layer factor measured and predicted, depth scale, diagnosis."""
    summ, th = report.summary, report.theory
    assert summ is not None and th is not None
    depth = len(report.layers)
    D = sub(depth)
    lines: list[RenderableType] = [
        Prose(f"decay `‖∂E/∂W₁‖/‖∂E/∂W{D}‖ = {num(summ.grad_decay, 3)}`, "
              f"`‖δ₁‖/‖δ{D}‖ = {num(summ.delta_decay, 3)}`"),
        Prose(f"per layer `‖δ_k‖²/‖δ_k+1‖²`: measured `{num(summ.measured_mean_factor, 3)}` "
              f"(geometric mean), predicted `χ̄ = {num(th.mean_chi, 3)}`"
              + (f", median measured/predicted `{num(summ.median_measured_over_predicted, 3)}`"
                 if summ.median_measured_over_predicted is not None else "")),
        Prose(f"theory `σ_w² = {num(th.sigma_w2, 4)}`, `σ_b² = {num(th.sigma_b2, 3)}`, "
              f"`q₁ = {num(th.q[0], 3)} → q{D} = {num(th.q[-1], 3)}`; "
              + sentences.depth_scale(th.depth_scale, th.critical, th.growing)),
    ]
    diag = summ.diagnosis
    style = {"vanishing": "bold yellow", "exploding": "bold red", "stable": "bold green",
             "dead": "bold red", "non-finite": "bold red", "signal-lost": "bold red"}.get(diag, "bold")
    why = sentences.diagnosis(summ, th, depth, report.settings)
    label = "SIGNAL LOST" if diag == "signal-lost" else diag.upper()
    lines.append(Text(f"diagnosis {label}", style=style))
    lines.append(Prose(why, indent="  "))
    for a in summ.advice:
        lines.append(Prose(f"→ {sentences.advice(a)}", style="dim", indent="  ", hang="  "))
    for note in summ.notes:
        lines.append(Prose(f"note: {sentences.flow_note(note)}", style="italic dim",
                           indent="  ", hang="  "))
    return Panel(Group(*lines), title="Gradient flow", title_align="left", expand=False)


def history_section(report: Report) -> list[RenderableType]:
    """Loss and every layer's ‖δ‖ over training: a table of sampled steps and a sparkline per layer."""
    hist, train = report.history, report.training
    if not hist or train is None:
        return []
    depth = len(hist[0].delta_norm)
    picks = sorted({0, depth // 2, depth - 1}) if depth > 6 else list(range(depth))
    table = styled_table(f"Training: {train.steps} SGD steps, lr {train.lr:g} "
                  "(analytic gradients, checked against autograd)")
    table.add_column("step", justify="right")
    table.add_column("loss", justify="right")
    for k in picks:
        table.add_column(f"‖δ{sub(k + 1)}‖", justify="right")
    table.add_column("rel. err", justify="right")
    rows = hist if len(hist) <= 8 else [hist[round(i * (len(hist) - 1) / 7)] for i in range(8)]
    for h in rows:
        table.add_row(str(h.step), num(h.loss, 5),
                      *[num(h.delta_norm[k], 3) for k in picks], num(h.rel_error, 2))
    spark = styled_table("‖δ_k‖ over training, per layer (log scale, each row its own range)")
    for name, justify in (("layer", "right"), ("first", "right"), ("", "left"), ("last", "right"),
                          ("change", "right")):
        spark.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in _layer_rows(depth):
        if row is None:
            spark.add_row("⋮", "", "", "", "")
            continue
        k = row
        series = [h.delta_norm[k] for h in hist]
        spark.add_row(str(k + 1), num(series[0], 3), sparkline(series), num(series[-1], 3),
                      _times(_safe_ratio(series[-1], series[0])))
    return [table, spark]


def vanish(report: Report) -> list[RenderableType]:
    """Everything ``percgrad vanish`` shows."""
    if report.runs:
        return vanish_compare(report)
    s = report.settings
    depth, width = s["depth"], s["width"]
    model = f"{chain_formula(s)}, k = 1…{depth}, W_k: {width}×{width}; o = h{sub(depth)}"
    what = describe(s["norm"], s["residual"])
    parts: list[RenderableType] = [
        header(report, f"{what} of {depth} layer{'s' if depth != 1 else ''} of width {width}",
               model),
        forward_layers(report, lambda k: f"h{sub(k + 1)}" if k + 1 < depth else f"o = h{sub(depth)}"),
        vanish_table(report),
        vanish_summary(report),
    ]
    parts += history_section(report)
    parts += spectrum_section(report.spectrum)
    parts += verdict(report)
    return parts


def chain_formula(s: dict[str, object], sym: str | None = None) -> str:
    """h_k in terms of h_k−1 for the chain's architecture."""
    sym = sym or symbol(str(s["activation"]))
    b = " + b_k" if s["bias"] else ""
    inner = f"W_k h_k−1{b}"
    inner = NORMS[str(s["norm"])].wraps.format(inner)
    step = f"{sym}({inner})"
    return f"h_k = h_k−1 + {step}" if s["residual"] else f"h_k = {step}"


def vanish_compare(report: Report) -> list[RenderableType]:
    """Several runs of the same chain side by side: per-layer magnitudes and a shared-scale chart."""
    runs = report.runs
    assert report.compare is not None
    by = report.compare.by
    first = runs[0]
    s = first.settings
    depth = len(first.layers)
    values = [layer.grad_norm for r in runs for layer in r.layers]
    low, high = bar_range(values)
    rows = _layer_rows(depth)
    columns = [Column("layer", ["⋮" if k is None else str(k + 1) for k in rows])]
    for r in runs:
        columns.append(Column(str(r.label), ["⋮" if k is None else num(r.layers[k].grad_norm)
                                             for k in rows]))
    for i, r in enumerate(runs):
        columns.append(Column(str(r.label), ["⋮" if k is None else
                                             log_bar(r.layers[k].grad_norm, low, high, width=12)
                                             for k in rows], justify="left", drop=10 - i,
                              what=f"the bars of {r.label}",
                              legend=f"bars share one log scale {num(low, 1)} … {num(high, 2)}"
                              if i == 0 else ""))
    table = FitTable(f"‖∂E/∂W_k‖ by {by} (layer 1 = input side)", columns)
    status = {True: "[green]pass[/]", False: "[red]fail[/]", None: "n/a"}
    summaries = [(r, r.summary, r.theory) for r in runs]
    summary = FitTable("Summary", [
        Column(by, [str(r.label) for r in runs], justify="left"),
        Column("first/last ‖∂E/∂W‖", [num(sm.grad_decay if sm else None, 3) for _, sm, _ in summaries]),
        Column("measured factor", [num(sm.measured_mean_factor if sm else None, 3)
                                   for _, sm, _ in summaries], drop=2),
        Column("predicted χ̄", [num(th.mean_chi if th else None, 3) for _, _, th in summaries],
               drop=1),
        Column("diagnosis", [sm.diagnosis if sm else "—" for _, sm, _ in summaries], justify="left"),
        Column("check", ["vacuous" if r.check.vacuous else "inconclusive" if r.check.inconclusive
                         else status[r.check.passed] for r in runs], justify="left"),
    ], caption=["diagnosis: from first/last ‖∂E/∂W‖ (below 0.1 vanishing, above 10 exploding); "
                "measured factor = geometric mean of `‖δ_k‖²/‖δ_k+1‖²`"])
    title = f"{depth} layers of width {s['width']}, compared by {by}"
    labels = ", ".join(str(r.label) for r in runs)
    if by == "activation":
        model = f"{chain_formula(s, 'φ')}, φ ∈ {{{labels}}}"
    elif by == "init":
        model = f"{chain_formula(s)}, init ∈ {{{labels}}}"
    else:
        model = f"{' | '.join(chain_formula(r.settings) for r in runs)}"
    head_report = runs[0]
    parts: list[RenderableType] = [header(head_report, title, model), table, summary]
    parts += spectrum_section([r.spectrum for r in runs])
    parts += verdict(report)
    return parts
