"""Rich renderables for ``vanish``: the per-layer flow table, the diagnosis, comparisons and
training history, built from a Report (returned, never printed here)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from percgrad import render_text
from percgrad.render import (
    VANISH_BAR,
    bar_range,
    header,
    log_bar,
    num,
    numbers_table,
    styled_table,
    sub,
    symbol,
    verdict,
)
from percgrad.report import Report

MAX_LAYER_ROWS = 40
PREDICTED = {
    "plain": "predicted χ_k = σ_w²·E[φ′(h)²], h ~ N(0, q_k)",
    "residual": "predicted χ_k = (r_k/r_k+1)·(1 + σ_w²·r_k+1), r_k = E[φ′(h)²], h ~ N(0, q_k) "
                "(about 1 + σ_w²·E[φ′²]: the skip adds 1)",
    "layernorm": "predicted χ_k = σ_w²·r_k, r_k ≈ E[φ′(z)²]/q_k, z ~ N(0, 1) (the norm divides δ "
                 "by the spread √q_k of a)",
    "residual-layernorm": "predicted χ_k = (r_k/r_k+1)·(1 + σ_w²·r_k+1), r_k ≈ E[φ′(z)²]/q_k, "
                          "z ~ N(0, 1)",
}
"""The mean-field factor of each architecture, as the table's legend states it (theory.predict)."""
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


def vanish_table(report: Report) -> Table:
    """Per layer from the input side: magnitudes, saturation, measured vs predicted factors."""
    s = report.settings
    plain = s["arch"] == "plain"
    cols = ["layer", "‖∂E/∂W‖", "÷ last", "‖δ‖", "mean|φ′|", "sat.", "measured", "predicted"]
    if plain:
        cols.append("  bound")
    table = numbers_table("Per-layer gradient flow (layer 1 = input side)", cols)
    layers = report.layers
    low, high = bar_range([layer.grad_norm for layer in layers])
    table.add_column("log ‖∂E/∂W‖", no_wrap=True)
    last = layers[-1].grad_norm
    for k in _layer_rows(len(layers)):
        if k is None:
            table.add_row("⋮", *["⋮"] * len(cols))
            continue
        layer = layers[k]
        if layer.bound is None:
            bound = "—"
        else:
            mark = "[green]✔[/]" if layer.bound_holds else ("[red]✘[/]" if layer.bound_holds is
                                                              False else "?")
            bound = f"{mark} {num(layer.bound, 2)}"
        table.add_row(
            f"{k + 1}", num(layer.grad_norm, 3), num(_safe_ratio(layer.grad_norm, last), 2),
            num(layer.delta_norm, 3), num(layer.mean_abs_dphi, 3), f"{layer.saturated:.0%}",
            num(layer.measured_factor, 3), num(layer.predicted_factor, 3), *([bound] if plain else []),
            log_bar(layer.grad_norm, low, high, width=VANISH_BAR),
        )
    hidden = len(layers) - MAX_LAYER_ROWS if len(layers) > MAX_LAYER_ROWS else 0
    table.caption = (
        (f"{hidden} middle layers not shown (--json has all) · " if hidden else "")
        + f"bars: log scale {num(low, 1)} … {num(high, 2)} · measured = ‖δ_k‖²/‖δ_k+1‖² · "
        + PREDICTED[s["arch"]]
        + (" · bound: ‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖" if plain else "")
        + f" · sat.: share of units with |φ′| < 10% of its max ({s['activation']})"
    )
    table.caption_justify = "left"
    return table


def _safe_ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 and math.isfinite(a) and math.isfinite(b) else None


def vanish_summary(report: Report) -> Panel:
    """Overall decay, the per-layer factor measured and predicted, depth scale, diagnosis."""
    summ, th = report.summary, report.theory
    assert summ is not None and th is not None
    depth = len(report.layers)
    D = sub(depth)
    lines: list[RenderableType] = [
        Text(f"decay     ‖∂E/∂W₁‖ / ‖∂E/∂W{D}‖ = {num(summ.grad_decay, 3)}    "
             f"‖δ₁‖ / ‖δ{D}‖ = {num(summ.delta_decay, 3)}"),
        Text(f"per layer ‖δ_k‖²/‖δ_k+1‖²: measured {num(summ.measured_mean_factor, 3)} "
             f"(geometric mean), predicted χ̄ = {num(th.mean_chi, 3)}"
             + (f", median measured/predicted {num(summ.median_measured_over_predicted, 3)}"
                if summ.median_measured_over_predicted is not None else "")),
        Text(f"theory    σ_w² = {num(th.sigma_w2, 4)}, σ_b² = {num(th.sigma_b2, 3)}, "
             f"q₁ = {num(th.q[0], 3)} → q{D} = {num(th.q[-1], 3)}; "
             + render_text.depth_scale(th.depth_scale, th.critical, th.growing)),
    ]
    diag = summ.diagnosis
    style = {"vanishing": "bold yellow", "exploding": "bold red", "stable": "bold green",
             "dead": "bold red", "non-finite": "bold red"}.get(diag, "bold")
    why = render_text.diagnosis(summ, th, depth, report.settings)
    lines.append(Text.assemble(("diagnosis ", "bold"), (diag.upper(), style), f": {why}"))
    for a in summ.advice:
        lines.append(Text(f"  → {render_text.advice(a)}", style="dim"))
    for note in summ.notes:
        lines.append(Text(f"  note: {render_text.flow_note(note)}", style="italic dim"))
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
    what = {"plain": "a chain", "residual": "a residual chain", "layernorm": "a layer-normed chain",
            "residual-layernorm": "a residual, layer-normed chain"}[s["arch"]]
    parts: list[RenderableType] = [
        header(report, f"{what} of {depth} layer(s) of width {width}", model),
        vanish_table(report),
        vanish_summary(report),
    ]
    parts += history_section(report)
    parts += verdict(report)
    return parts


def chain_formula(s: dict[str, object], sym: str | None = None) -> str:
    """h_k in terms of h_k−1 for the chain's architecture."""
    sym = sym or symbol(str(s["activation"]))
    b = " + b_k" if s["bias"] else ""
    inner = f"W_k h_k−1{b}"
    if s["norm"] == "layer":
        inner = f"LN({inner})"
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
    table = styled_table(f"‖∂E/∂W_k‖ by {by} (layer 1 = input side; bars share one log scale "
                  f"{num(low, 1)} … {num(high, 2)})")
    table.add_column("layer", justify="right")
    for r in runs:
        table.add_column(str(r.label), justify="right")
    for r in runs:
        table.add_column(str(r.label), no_wrap=True)
    for k in _layer_rows(depth):
        if k is None:
            table.add_row("⋮", *["⋮"] * (2 * len(runs)))
            continue
        nums = [num(r.layers[k].grad_norm) for r in runs]
        bars = [log_bar(r.layers[k].grad_norm, low, high, width=12) for r in runs]
        table.add_row(str(k + 1), *nums, *bars)
    summary = styled_table("Summary")
    for name in (by, "first/last ‖∂E/∂W‖", "measured factor", "predicted χ̄", "diagnosis", "check"):
        summary.add_column(name, justify="left" if name in (by, "diagnosis", "check") else "right")
    for r in runs:
        sm, th = r.summary, r.theory
        assert sm is not None and th is not None
        status = {True: "[green]pass[/]", False: "[red]fail[/]", None: "n/a"}[r.check.passed]
        summary.add_row(str(r.label), num(sm.grad_decay, 3),
                        num(sm.measured_mean_factor, 3), num(th.mean_chi, 3),
                        sm.diagnosis, status)
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
    parts += verdict(report)
    return parts
