"""What ``inspect`` and ``check`` show: Rich renderables built from their reports (returned,
never printed here), the sentences their records become (the JSON uses the same), and their
plots. Tables fit the width they are drawn at: columns that do not fit move to a further
table keyed by the same first column, so that no number is ever cut."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from percgrad.errors import PercgradError
from percgrad.reports.numbers import num
from percgrad.reports.user import (
    FunctionCheckReport,
    GradCheck,
    GroupCheck,
    InspectReport,
    ModuleStats,
)
from percgrad.reports.user_sentences import (
    check_sentence,
    diagnosis_sentences,
    entry_sentence,
    group_label,
    ladder_sentence,
    localisation_sentence,
    note_sentence,
    percent,
    shape_text,
)
from percgrad.views.export import pyplot, save_figure
from percgrad.views.render import bar_range, log_bar, styled_table

BAR_MAX, BAR_MIN = 14, 6
MAX_GROUP_ROWS = 10
"""Rows of the per-parameter check table before the rest are summed up in a line."""
NAMES_SHOWN = 6


# ------------------------------------------------------------------- fitting tables


@dataclass
class Col:
    """One column: its header, its cells, how they align; ``bar``: a log bar of these values."""

    header: str
    cells: Sequence[RenderableType] = ()
    justify: Literal["left", "right"] = "right"
    bar: Sequence[float | None] | None = None


@dataclass
class Split:
    """A table whose columns that do not fit the width move to a further table (the key column
    repeated), so that no cell is cut; a caption below."""

    title: str
    key: Col
    columns: list[Col]
    caption: str = ""
    rows: int = 0
    styles: list[str | None] = field(default_factory=list)

    def _table(self, title: str, cols: list[Col], bar_width: int) -> Table:
        table = styled_table(title)
        table.add_column(self.key.header, justify="left", overflow="fold")
        for col in cols:
            table.add_column(col.header, justify=col.justify, no_wrap=True)
        low, high = (1.0, 1.0)
        for col in cols:
            if col.bar is not None:
                low, high = bar_range([v for v in col.bar if v is not None])
        for r in range(self.rows):
            cells: list[RenderableType] = [self.key.cells[r]]
            for col in cols:
                if col.bar is not None:
                    v = col.bar[r]
                    if v is None:
                        cells.append(Text("—", style="dim"))
                    elif not math.isfinite(v):
                        cells.append(Text(num(v), style="bold red"))
                    else:
                        cells.append(log_bar(v, low, high, width=bar_width))
                else:
                    cells.append(col.cells[r])
            style = self.styles[r] if r < len(self.styles) else None
            table.add_row(*cells, style=style)
        return table

    def build(self, console: Console, options: ConsoleOptions) -> list[RenderableType]:
        """The tables for ``options.max_width`` and the caption."""
        width = options.max_width
        tables: list[list[Col]] = [[]]
        bar_width = BAR_MAX
        for col in self.columns:
            trial = [*tables[-1], col]
            fits = self._width(console, options, trial, BAR_MIN if col.bar is not None else
                               bar_width) <= width
            if not fits and tables[-1]:
                tables.append([col])
            else:
                tables[-1] = trial
            if col.bar is not None:
                spare = width - self._width(console, options, tables[-1], BAR_MIN)
                bar_width = max(BAR_MIN, min(BAR_MAX, BAR_MIN + spare))
        parts: list[RenderableType] = []
        for i, cols in enumerate(tables):
            title = self.title if i == 0 else "(continued)"
            parts.append(self._table(title, cols, bar_width))
        if self.caption:
            parts.append(Text(self.caption, style="dim"))
        return parts

    def _width(self, console: Console, options: ConsoleOptions, cols: list[Col], bar: int) -> int:
        table = self._table("", cols, bar)
        return Measurement.get(console, options.update(width=10_000), table).maximum

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.build(console, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)


# ------------------------------------------------------------------- check


def _check_line(check: GradCheck, dtype: str) -> Text:
    sentence = check_sentence(check)
    if check.passed is None:
        return Text.assemble(("? NOT APPLICABLE ", "bold yellow"), sentence)
    if check.passed:
        return Text.assemble(("✔ PASS ", "bold green"), sentence, f" ({dtype})")
    return Text.assemble(("✘ FAIL ", "bold red"), sentence, f" ({dtype})")


def _evaluation(check: GradCheck) -> str:
    if check.vectorises is False:
        how = "one call each: the function does not vectorise with torch.func.vmap"
    elif check.stacked == 0:
        how = "one call each: too few to stack"
    else:
        how = f"{check.stacked:,} of them stacked through torch.func.vmap"
    return f"{check.evaluations:,} evaluations ({how})"


def _method(check: GradCheck) -> str:
    steps = check.steps
    ladder = f"steps {steps[0]:.0e} … {steps[-1]:.0e} as needed" if steps else ""
    if check.method == "full":
        return f"full: every entry, {ladder}"
    if check.method == "fast":
        return f"fast: a random Gaussian unit direction per tensor, {ladder}"
    return "off"


def group_split(check: GradCheck, title: str, key: str) -> Split:
    """One row per compared tensor: norms, max|Δ|, relative error, worst entry."""
    groups = check.groups
    shown = groups
    hidden = 0
    if len(groups) > MAX_GROUP_ROWS:
        failing = [g for g in groups if g.passed is False]
        rest = sorted((g for g in groups if g.passed is not False),
                      key=lambda g: -(g.rel_error or 0.0))
        shown = (failing + rest)[:MAX_GROUP_ROWS]
        order = {id(g): i for i, g in enumerate(groups)}
        shown.sort(key=lambda g: order[id(g)])
        hidden = len(groups) - len(shown)
    fast = check.method == "fast"

    def mark(g: GroupCheck) -> Text:
        if g.passed is None:
            return Text("?", style="yellow")
        return Text("✔", style="green") if g.passed else Text("✘", style="bold red")

    cols = [
        Col("shape", [shape_text(g.shape) for g in shown]),
        Col("‖∇‖ autograd", [num(g.analytic_norm) for g in shown]),
    ]
    if not fast:
        cols.append(Col("numeric", [num(g.numeric_norm) for g in shown]))
    cols += [
        Col("rel.err", [num(g.rel_error, 2) for g in shown]),
        Col("", [mark(g) for g in shown], justify="left"),
        Col("worst", [_where(g) for g in shown], justify="left"),
        Col("max|Δ|", [num(g.max_abs_diff, 2) for g in shown]),
    ]
    if any(g.kinks or g.unsettled for g in shown):
        cols.append(Col("left out", [str(g.kinks + g.unsettled) for g in shown]))
    caption = ("‖∇‖: norm of the gradient (of v·f) over the tensor" if not fast else
               "‖∇‖: norm of the autograd gradient; fast: uᵀ∇ along a random unit direction u "
               "per tensor (--check full names the entry)")
    caption += " · rel.err = max|Δ| / max(max|autograd|, max|numeric|, round-off floor)"
    if hidden:
        caption = f"{hidden} more tensor(s) passed and are not shown (--json has all) · " + caption
    return Split(title, Col(key, [group_label(g) for g in shown], "left"), cols, caption,
                 len(shown), ["red" if g.passed is False else None for g in shown])


def _where(g: GroupCheck) -> str:
    """The worst entry's index (the row names the tensor), or the direction."""
    if g.worst is None:
        return "—"
    if g.worst.name.startswith("u") and not g.worst.name.startswith(g.name):
        return g.worst.name
    return "[" + ",".join(str(i) for i in g.worst.index) + "]" if g.worst.index else "(scalar)"


def worst_panel(check: GradCheck) -> RenderableType | None:
    """The worst entry: both values, relative error and the step ladder that settled it."""
    group = check.worst
    if group is None or group.worst is None:
        return None
    entry = group.worst
    fast = check.method == "fast"
    lines = [Text(entry_sentence(entry, fast))]
    for i, step in enumerate(entry.ladder):
        kept = ""
        if entry.settled is not None and entry.agreed and i == entry.settled:
            kept = "  ← agrees with autograd"
        elif entry.settled is not None and i in (entry.settled, entry.settled + 1):
            kept = "  ← settled"
        lines.append(Text(f"  ε = {step.eps:.0e}   D(ε) = {step.value:.12g}{kept}"))
    lines.append(Text(ladder_sentence(entry), style="dim"))
    name = group_label(group)
    return Panel(Group(*lines), title=f"[bold]Worst entry[/] — {name}", title_align="left",
                 border_style="red" if group.passed is False else "blue", expand=False)


def check_renderables(report: FunctionCheckReport) -> Group:
    """Everything ``percgrad check`` shows."""
    s = report.settings
    c = report.check
    args = ", ".join(f"{n}: {shape_text(sh)}" for n, sh in report.inputs)
    outs = ", ".join(shape_text(sh) for sh in report.outputs)
    lines = [
        Text.assemble(("function ", "bold"), f"{report.function}({args}) → {outs}"),
        Text.assemble(("inputs   ", "bold"),
                      f"{s.get('inputs', 'N(0, 1)')}, seed {s['seed']} · {s['dtype']}"),
        Text.assemble(("compares ", "bold"), "∂(v·f)/∂input, v a random cotangent per output "
                      "(N(0, 1), seed): autograd (one backward pass) vs float64 central "
                      "differences of v·f"),
    ]
    if c.method != "off":
        lines.append(Text.assemble(("check    ", "bold"), _method(c)
                                   + (f" · {_evaluation(c)}" if c.evaluations else "")))
    if report.target:
        lines.insert(0, Text.assemble(("target   ", "bold"), report.target))
    parts: list[RenderableType] = [
        Panel(Group(*lines), title="[bold]percgrad check[/]", title_align="left",
              border_style="blue", expand=False),
    ]
    if c.groups:
        parts.append(group_split(c, "Per input", "input"))
        worst = worst_panel(c)
        if worst is not None:
            parts.append(worst)
    parts += [Text(f"⚠ {note_sentence(n)}", style="yellow") for n in report.notes]
    parts.append(_check_line(c, s["dtype"]))
    if report.timing and all(v is not None for v in report.timing.values()):
        t = report.timing
        parts.append(Text(f"time: autograd {t['analytic_s']:.2g} s · finite differences "
                          f"{t['numeric_s']:.2g} s", style="dim"))
    return Group(*parts)


# ------------------------------------------------------------------- inspect


def _units(m: ModuleStats) -> str:
    if m.dead is not None:
        return f"{percent(m.dead)} dead"
    if m.saturated is not None:
        return f"{percent(m.saturated)} sat."
    return ""


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
    flagged = set(d.concerned) | ({d.first_nonfinite_forward, d.first_nonfinite_backward} - {None})
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
    if any(m.local is not None for m in mods):
        cols.append(Col("own check", [_local(m) for m in mods], "left"))
    bars = [m.grad_norm if m.params and m.grad_norm is not None else None for m in mods]
    cols.append(Col("log", bar=bars, justify="left"))
    low, high = bar_range([b for b in bars if b is not None])  # the bars' own range
    caption = (f"log: ‖∂E/∂W‖ on a log scale {num(low, 1)} … {num(high, 2)} · W: all of a "
               "module's own parameters (weight and bias) · ‖∂E/∂out‖ from a hook on the "
               "module's output")
    if any(m.dead is not None for m in mods):
        caption += " · dead: share of ReLU units that are 0 for every sample of the batch"
    if any(m.saturated is not None for m in mods):
        caption += " · sat.: share of sigmoid/tanh outputs with |φ′| < 10% of its max"
    if any(not (m.finite_forward and m.finite_backward) for m in mods):
        caption += " · finite: ✘ fwd: its output holds NaN or ∞; ✘ bwd: a gradient does"
    if any(m.local is not None for m in mods):
        caption += " · own check: the module alone, on its recorded input (max relative error)"
    styles: list[str | None] = ["red" if m.name in flagged and "non-finite" in d.kinds else
                                ("yellow" if m.name in flagged else None) for m in mods]
    return Split("Modules in forward order (leaf modules, by container path)",
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
    lines = [
        Text.assemble(("model  ", "bold"), f"{report.model} · {report.params:,} parameters · "
                      f"{n_leaves} leaf module(s) run"),
        Text.assemble(("input  ", "bold"), f"{inputs} ({source}) → output {out}"),
        Text.assemble(("loss   ", "bold"), _loss_text(report)),
        Text.assemble(("run    ", "bold"), f"{dev['type']} ({dev['name']}) · {s.get('dtype', '')} · "
                      f"seed {s['seed']} · table in {s['mode']} mode · check on a float64 copy in "
                      "eval mode"),
    ]
    if report.target:
        lines.insert(0, Text.assemble(("target ", "bold"), report.target))
    return Panel(Group(*lines), title="[bold]percgrad inspect[/]", title_align="left",
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
        text += f". The first module whose own backward is wrong: {loc.module} ({loc.type})"
    return text


def _inspect_line(report: InspectReport) -> Text:
    c = report.check
    sentence = inspect_verdict(report)
    if c.passed is None:
        return Text.assemble(("? NOT APPLICABLE ", "bold yellow"), sentence)
    if c.passed:
        return Text.assemble(("✔ PASS ", "bold green"), sentence, " (float64)")
    return Text.assemble(("✘ FAIL ", "bold red"), sentence)


def inspect_renderables(report: InspectReport) -> Group:
    """Everything ``percgrad inspect`` shows."""
    parts: list[RenderableType] = [inspect_header(report), module_split(report),
                                   diagnosis_panel(report)]
    parts += history_split(report)
    c = report.check
    if c.groups:
        parts.append(group_split(c, "Gradient check of the whole model (float64 copy, eval mode)",
                                 "parameter"))
        worst = worst_panel(c)
        if worst is not None and c.passed is False:
            parts.append(worst)
    loc = report.localisation
    if loc is not None:
        style = "bold red" if loc.module is not None else "yellow"
        parts.append(Text.assemble(("→ localised: ", style), localisation_sentence(loc)))
    for n in report.notes:
        if n.kind == "eval-copy":
            parts.append(Text(note_sentence(n), style="dim"))
        else:
            parts.append(Text(f"⚠ {note_sentence(n)}", style="yellow"))
    parts.append(_inspect_line(report))
    if report.timing and all(v is not None for v in report.timing.values()):
        t = report.timing
        parts.append(Text(f"time: forward and backward with hooks {t['stats_s']:.2g} s · check "
                          f"{t['check_s']:.2g} s", style="dim"))
    return Group(*parts)


# ------------------------------------------------------------------- plots


def save_inspect_plot(report: InspectReport, path: Path) -> None:
    """Per module ‖∂E/∂W‖ and ‖∂E/∂output‖ on a log axis, in forward order."""
    plt = pyplot()
    mods = report.modules
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(mods) + 2), 4.5), layout="constrained")
    xs = list(range(len(mods)))

    def clean(values: Sequence[float | None]) -> list[float]:
        return [v if v is not None and v > 0 and math.isfinite(v) else math.nan for v in values]

    ax.plot(xs, clean([m.grad_norm if m.params else None for m in mods]), "o-", label="‖∂E/∂W‖")
    ax.plot(xs, clean([m.output_grad_norm for m in mods]), "s--", label="‖∂E/∂output‖")
    ax.set_yscale("log")
    ax.set_xticks(xs, [m.name for m in mods], rotation=60, ha="right", fontsize="small")
    ax.set_ylabel("gradient magnitude")
    ax.set_title(f"percgrad inspect: {report.target or report.model}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    save_figure(fig, plt, path, dpi=100)


def save_check_plot(report: FunctionCheckReport, path: Path) -> None:
    """Every entry's numeric difference against its autograd value, one series per input."""
    plt = pyplot()
    if not report.values:
        raise PercgradError("the plot needs --check full and inputs of at most 4,096 entries",
                            "--plot")
    fig, ax = plt.subplots(figsize=(5.5, 5.0), layout="constrained")
    lo, hi = math.inf, -math.inf
    for v in report.values:
        a, n = v["analytic"], v["numeric"]
        name = v["name"] if v["output"] is None else f"{v['name']} (output {v['output']})"
        ax.scatter(a, n, s=12, label=name)
        lo, hi = min(lo, *a, *n), max(hi, *a, *n)
    if math.isfinite(lo) and math.isfinite(hi):
        ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8, label="numeric = autograd")
    ax.set_xlabel("autograd ∂(v·f)/∂x")
    ax.set_ylabel("float64 central difference")
    ax.set_title(f"percgrad check: {report.target or report.function}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    save_figure(fig, plt, path, dpi=100)
