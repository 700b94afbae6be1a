"""What ``inspect`` shows: the model, its modules in forward order, the diagnosis, training, the
whole model's check and where it was localised (Rich renderables, returned, never printed here)."""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from percgrad.reports.numbers import num
from percgrad.reports.user import InspectReport, ModuleStats
from percgrad.reports.user_sentences import (
    check_sentence,
    diagnosis_sentences,
    localisation_sentence,
    module_name,
    note_sentence,
    percent,
    shape_text,
)
from percgrad.views.check import group_split, hanging, labelled, status_line, worst_panel
from percgrad.views.format import bar_range
from percgrad.views.split import Col, Split


def _units(m: ModuleStats) -> str:
    if m.dead is not None:
        return f"{percent(m.dead)} dead"
    if m.saturated is not None:
        return f"{percent(m.saturated)} sat."
    return ""


def _held(m: ModuleStats) -> str:
    """Frozen, unused or tied parameters of a row, in words."""
    parts = ["frozen"] if m.frozen else []
    if m.unused:
        parts.append("no gradient: " + ", ".join(n.rpartition(".")[2] for n in m.unused))
    if m.also:
        parts.append("tied: " + ", ".join(m.also))
    if not m.ran:  # its hooks never fired: unused, or called by its container's own code
        parts.append("not called" if m.grad_norm is None else "used inside its container")
    return " · ".join(parts)


def _local(m: ModuleStats) -> Text:
    if m.local is None:
        return Text("—", style="dim")
    if m.local.passed is None:
        return Text("?", style="yellow")
    rel = num(m.local.max_rel_error, 2)
    return Text(f"✔ {rel}", style="green") if m.local.passed else Text(f"✘ {rel}", style="bold red")


def module_split(report: InspectReport) -> Split:
    """Every leaf module that ran, in forward order."""
    mods = report.modules
    d = report.diagnosis
    flagged = set(d.concerned) | ({d.first_nonfinite_forward, d.first_nonfinite_backward,
                                   d.module} - {None})
    cols = [
        Col("type", [m.type for m in mods], "left"),
        Col("params", [f"{m.params:,}" if m.params else "0" for m in mods]),
        Col("‖W‖", [num(m.weight_norm, 3) for m in mods]),
        Col("‖∂E/∂W‖", [num(m.grad_norm, 3) for m in mods]),
        Col("‖∂E/∂out‖", [num(m.output_grad_norm, 3) for m in mods]),
    ]
    if any(_units(m) for m in mods):
        cols.append(Col("units", [_units(m) for m in mods]))
    if any(not (m.finite_forward and m.finite_backward) for m in mods):
        cols.append(Col("finite", [Text("✔", style="green") if m.finite_forward and
                                   m.finite_backward else Text("✘ fwd" if not m.finite_forward
                                                               else "✘ bwd", style="bold red")
                                   for m in mods], "left"))
    if any(_held(m) for m in mods):
        cols.append(Col("parameters", [_held(m) for m in mods], "left"))
    if any(m.local is not None for m in mods):
        cols.append(Col("own check", [_local(m) for m in mods], "left"))
    bars = [m.grad_norm if m.params and m.grad_norm is not None else None for m in mods]
    cols.append(Col("log", bar=bars, justify="left"))
    low, high = bar_range([b for b in bars if b is not None])  # the bars' own range
    caption = (f"log: ‖∂E/∂W‖ on a log scale {num(low, 1)} … {num(high, 2)} · W: all of a "
               "module's own parameters (weight and bias) · ‖∂E/∂out‖ from a hook on the "
               "module's output")
    if any(m.dead is not None for m in mods):
        batch = report.diagnosis.batch
        caption += (" · dead: share of ReLU units that are 0 for every sample of the batch"
                    + (f" of {batch}" if batch is not None else ""))
    if any(m.saturated is not None for m in mods):
        caption += " · sat.: share of sigmoid/tanh outputs with |φ′| < 10% of its max"
    if any(not (m.finite_forward and m.finite_backward) for m in mods):
        caption += " · finite: ✘ fwd: its output holds NaN or ∞; ✘ bwd: a gradient does"
    if any(m.local is not None for m in mods):
        caption += " · own check: the module alone, on its recorded input (max relative error)"
    styles: list[str | None] = ["red" if m.name in flagged and "non-finite" in d.kinds else
                                ("yellow" if m.name in flagged else None) for m in mods]
    return Split("Modules in forward order (by container path)",
                 Col("module", [m.name for m in mods], "left"), cols, caption, len(mods), styles)


def _loss_text(report: InspectReport) -> str:
    kind = report.settings.get("loss", "sum")
    formula = {
        "sum": "E = Σ output", "mse": "E = mean (output − t)²",
        "bce": "E = binary cross entropy of the logits", "cross-entropy": "E = cross entropy",
    }.get(kind, kind)
    return f"{formula} ({kind})   E = {num(report.loss)}"


def inspect_header(report: InspectReport) -> Panel:
    """The model, its input, the loss and how the run was made."""
    s = report.settings
    dev = report.device
    n_leaves = len(report.modules)
    inputs = " + ".join(shape_text(sh) for sh in report.input_shapes)
    source = s.get("inputs", "given")
    out = shape_text(report.output_shape) if report.output_shape is not None else "?"
    rows = [
        ("model", f"{report.model} · {report.params:,} parameters · {n_leaves} leaf module(s) run"),
        ("input", f"{inputs} ({source}) → output {out}"),
        ("loss", _loss_text(report)),
        ("run", f"{dev['type']} ({dev['name']}) · {s.get('dtype', '')} · seed {s['seed']} · table "
                f"in {s['mode']} mode · check on a float64 copy in eval mode"),
    ]
    if report.target:
        rows.insert(0, ("target", report.target))
    return Panel(labelled(rows), title="[bold]percgrad inspect[/]", title_align="left",
                 border_style="blue", expand=False)


def diagnosis_panel(report: InspectReport) -> Panel:
    """The diagnosis, by the rule of vanish."""
    d = report.diagnosis
    style = "green" if d.healthy else ("red" if "non-finite" in d.kinds else "yellow")
    lines = [Text(t) for t in diagnosis_sentences(d)]
    if d.mean_factor is not None and len(d.weight_layers) > 2:
        lines.append(Text(f"measured factor ‖∂E/∂out_k‖²/‖∂E/∂out_k+1‖² between consecutive "
                          f"weight layers: {num(d.mean_factor, 3)} (geometric mean)", style="dim"))
    return Panel(Group(*lines), title="[bold]Diagnosis[/]", title_align="left",
                 border_style=style, expand=False)


def history_split(report: InspectReport) -> list[RenderableType]:
    """--steps: E and every weight module's ‖∂E/∂W‖ at the first and last step."""
    hist = report.history
    if not hist:
        return []
    first, last = hist[0], hist[-1]
    idx = [i for i, m in enumerate(report.modules) if m.params]
    from percgrad.views.vanish import sparkline

    names = [report.modules[i].name for i in idx]

    def series(i: int) -> list[float]:
        values = [h.grad_norms[i] for h in hist]
        return [math.nan if v is None else v for v in values]

    cols = [
        Col(f"step {first.step}", [num(first.grad_norms[i], 3) for i in idx]),
        Col(f"step {last.step}", [num(last.grad_norms[i], 3) for i in idx]),
        Col("‖∂E/∂W‖ over the steps", [sparkline(series(i)) for i in idx], "left"),
    ]
    caption = (f"E: {num(first.loss)} at step {first.step} → {num(last.loss)} at step {last.step} "
               f"(plain SGD, lr {report.settings['lr']:g}, on the batch) · sparklines: log scale, "
               "each row its own range")
    return [Split(f"Training: {last.step} SGD step(s)", Col("module", names, "left"), cols,
                  caption, len(idx))]


def inspect_verdict(report: InspectReport) -> str:
    """The model's check in one sentence, with the module it was localised to."""
    c = report.check
    if c.reason == "nonfinite":
        return (f"the loss of the float64 copy in eval mode is {c.detail}, so the check does not "
                "apply (the diagnosis above says where the values turn non-finite)")
    if c.passed is not False:
        return check_sentence(c)
    worst = c.worst
    where = ""
    if worst is not None and worst.worst is not None:
        e = worst.worst
        at = f"along {e.name} of {worst.name}" if c.method == "fast" else f"at {e.name}"
        where = f", worst {at}: autograd {e.analytic:.6g} vs numeric {e.numeric:.6g}"
    text = (f"the model's autograd gradient disagrees with the float64 finite differences: max "
            f"relative error {num(c.max_rel_error, 2)} > {num(c.tolerance, 1)}{where}")
    loc = report.localisation
    if loc is not None and loc.module is not None:
        text += f". The first module whose own backward is wrong: {module_name(loc.module, loc.type)}"
    return text


def inspect_renderables(report: InspectReport) -> Group:
    """Everything ``percgrad inspect`` shows."""
    parts: list[RenderableType] = [inspect_header(report), module_split(report),
                                   diagnosis_panel(report)]
    parts += history_split(report)
    c = report.check
    if c.groups:
        parts.append(group_split(c, "Gradient check of the whole model (float64 copy, eval mode)",
                                 "parameter", "E"))
        worst = worst_panel(c)
        if worst is not None and c.passed is False:
            parts.append(worst)
    loc = report.localisation
    if loc is not None:
        style = "bold red" if loc.module is not None else "yellow"
        parts.append(Text.assemble(("→ localised: ", style), localisation_sentence(loc)))
    for n in report.notes:
        if n.kind in ("eval-copy", "class-axis"):
            parts.append(Text(note_sentence(n), style="dim"))
        else:
            parts.append(hanging("⚠", note_sentence(n), "yellow"))
    parts.append(status_line(report.check, inspect_verdict(report), " (float64)"))
    if report.timing and all(v is not None for v in report.timing.values()):
        t = report.timing
        parts.append(Text(f"time: forward and backward with hooks {t['stats_s']:.2g} s · check "
                          f"{t['check_s']:.2g} s", style="dim"))
    return Group(*parts)
