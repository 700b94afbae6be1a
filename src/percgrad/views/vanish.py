"""Rich renderables for ``vanish``: the per-layer flow table, the diagnosis, comparisons and
training history, built from a Report (returned, never printed here)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from percgrad.catalog import ACTIVATIONS, LOSSES, NORMS, describe, legend
from percgrad.reports import sentences
from percgrad.reports.numbers import num, sub
from percgrad.reports.run import LayerReport, Report
from percgrad.views.fit import Column, FitTable, Prose
from percgrad.views.format import (
    VANISH_BAR,
    bar_range,
    bars_caption,
    log_bar,
    styled_table,
    symbol,
)
from percgrad.views.perceptron import forward_layers, header
from percgrad.views.spectrum import spectrum_section
from percgrad.views.verdict import verdict
from percgrad.views.worked import loss_n

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


def flat_units(activation: str) -> tuple[str, str]:
    """The header and legend of the column of units where φ′ is below 10% of its max: saturated
    for a smooth φ (sigmoid, tanh …), inactive for a kinked one (ReLU: a ≤ 0, φ′ = 0), whose
    flat side is not saturation (a header as narrow as "sat.", so the table keeps its width)."""
    info = ACTIVATIONS[activation]
    if info.kink:
        return "a≤0", (f"a≤0: share of inactive units, on the flat side of {activation} "
                       f"(`{info.derivative_formula}`)")
    return "sat.", f"sat.: share of units with |φ′| below 10% of its max ({activation})"


def vanish_table(report: Report) -> FitTable:
    """Per layer from the input side: magnitudes, saturation, measured vs predicted factors."""
    s = report.settings
    plain = s["arch"] == "plain"
    layers = report.layers
    low, high = bar_range([layer.grad_norm for layer in layers])
    last = layers[-1].grad_norm
    rows = _layer_rows(len(layers))
    flat, flat_legend = flat_units(str(s["activation"]))

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
        Column(flat, col(lambda layer, k: f"{layer.saturated:.0%}"), drop=2,
               legend=flat_legend),
        Column("measured", col(lambda layer, k: num(layer.measured_factor, 3)),
               legend="`measured = ‖δ_k‖²/‖δ_k+1‖²`"),
        Column("predicted", col(lambda layer, k: num(layer.predicted_factor, 3)),
               legend=legend(s["norm"], s["residual"])),
    ]
    if plain:
        columns.append(Column("  bound", col(bound), drop=5, what="the bound",
                              legend="`bound: ‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖`"))
    columns.append(Column("log ‖∂E/∂W‖", col(lambda layer, k: log_bar(layer.grad_norm, low, high,
                                                                        width=VANISH_BAR)),
                          justify="left", drop=6, what="the bars",
                          legend=bars_caption([layer.grad_norm for layer in layers])))
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
                              legend=bars_caption(values, "bars share one log scale")
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
    parts: list[RenderableType] = [compare_header(report, title), table, summary]
    parts += spectrum_section([r.spectrum for r in runs])
    parts += verdict(report)
    return parts


def _distinct(values: Sequence[str]) -> list[str]:
    """``values`` without repeats, in their order."""
    return list(dict.fromkeys(values))


def _one_or_set(values: Sequence[str]) -> str:
    """The value every run shares, or the set of them: {normal, xavier}."""
    distinct = _distinct(values)
    return distinct[0] if len(distinct) == 1 else "{" + ", ".join(distinct) + "}"


def compare_rows(report: Report) -> list[tuple[str, list[str]]]:
    """A comparison's header as (label, lines): what every run shares once, and every run's own
    φ, init and architecture (a formula in backticks is kept on one line)."""
    runs = report.runs
    assert report.compare is not None and runs
    by = report.compare.by
    s = runs[0].settings
    labels = ", ".join(str(r.label) for r in runs)
    if by == "arch":
        pad = max(len(str(r.label)) for r in runs)
        model = [f"`{r.label!s:<{pad}} ` `{chain_formula(r.settings)}`" for r in runs]
    elif by == "activation":
        model = [f"`{chain_formula(s, 'φ')}`, φ ∈ {{{labels}}}"]
    else:
        model = [f"`{chain_formula(s)}`, init ∈ {{{labels}}}"]
    phis = [f"`{f}`" for f in _distinct([ACTIVATIONS[r.settings["activation"]].formula
                                          for r in runs])]
    losses = [f"`{f}   n = {n}`" for f, n in dict.fromkeys(
        (LOSSES[r.settings["loss"]].formula, loss_n(r)) for r in runs)]
    dev = runs[0].device
    where = dev["type"] if dev["type"] == "cpu" else s["device"]
    run = f"{where} ({dev['name']}) · {_one_or_set([r.settings['dtype'] for r in runs])} · seed {s['seed']}"
    init = (f"{_one_or_set([r.settings['init'] for r in runs])} "
            f"(gain {_one_or_set([num(r.settings['gain']) for r in runs])}) · bias "
            f"{_one_or_set(['on' if r.settings['bias'] else 'off' for r in runs])} · batch "
            f"{_one_or_set([str(r.settings['batch']) for r in runs])}")
    return [("model", model), ("φ", phis), ("loss", losses), ("run", [run]), ("init", [init])]


def compare_header(report: Report, title: str) -> Panel:
    """The header of a comparison: every run's φ, init and architecture, each line wrapped
    under itself and no formula broken."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, lines in compare_rows(report):
        grid.add_row(label, Group(*[Prose(line) for line in lines]))
    return Panel(grid, title=f"[bold]percgrad {report.command}[/] — {title}", title_align="left",
                 border_style="blue", expand=False)
