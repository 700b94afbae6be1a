"""What ``check`` shows: the function, the per-input comparison, the worst entry with its step
ladder, and the verdict (Rich renderables, returned, never printed here). ``inspect`` shows its
model's check with the same table and panel."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from percgrad.reports.numbers import num
from percgrad.reports.user import FunctionCheckReport, GradCheck, GroupCheck
from percgrad.reports.user_sentences import (
    check_sentence,
    entry_sentence,
    group_label,
    ladder_sentence,
    note_sentence,
    shape_text,
)
from percgrad.views.split import Col, Split

MAX_GROUP_ROWS = 10
"""Rows of the per-parameter check table before the rest are summed up in a line."""


def hanging(mark: Text | str, body: Text | str, style: str | None = None) -> Table:
    """``mark`` then ``body``, the body's wrapped lines indented under its first (a grid of two
    columns, so that a narrow terminal keeps the mark's column clear)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(Text(mark, style=style or "") if isinstance(mark, str) else mark,
                 Text(body, style=style or "") if isinstance(body, str) else body)
    return grid


def labelled(rows: list[tuple[str, str]]) -> Table:
    """A header's ``label value`` lines, the values wrapped under themselves."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, Text(value))
    return grid


def status_line(check: GradCheck, sentence: str, passed: str = "", failed: str = "") -> Table:
    """A check's verdict word, then its sentence (``passed``/``failed``: what follows it)."""
    if check.reason == "interrupted":
        mark, style, tail = "■ INTERRUPTED", "bold yellow", ""
    elif check.reason in ("vacuous", "constant-loss"):
        mark, style, tail = "○ VACUOUS", "bold yellow", ""
    elif check.passed is None:
        mark, style, tail = "? NOT APPLICABLE", "bold yellow", ""
    elif check.passed:
        mark, style, tail = "✔ PASS", "bold green", passed
    else:
        mark, style, tail = "✘ FAIL", "bold red", failed
    return hanging(Text(mark, style=style), Text(sentence + tail))


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


def group_split(check: GradCheck, title: str, key: str, of: str = "v·f") -> Split:
    """One row per compared tensor: norms, max|Δ|, relative error, worst entry (``of``: what
    the gradient is of)."""
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

    vacuous = check.reason in ("vacuous", "constant-loss")
    zero = set(check.zero)

    def mark(g: GroupCheck) -> Text:
        if g.passed is None:
            return Text("?", style="yellow")
        if g.passed and (vacuous or g.name in zero):
            return Text("○", style="yellow")  # agrees, but on nothing (0 = 0, or rounding noise)
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
    caption = (f"‖∇‖: norm of the gradient (of {of}) over the tensor" if not fast else
               "‖∇‖: norm of the autograd gradient; fast: uᵀ∇ along a random unit direction u "
               "per tensor (--check full names the entry)")
    caption += " · rel.err = max|Δ| / max(max|autograd|, max|numeric|, round-off floor)"
    if vacuous or zero & {g.name for g in shown}:
        caption += " · ○: agrees, but tests nothing (both 0, or both rounding noise)"
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
    rows = [
        ("function", f"{report.function}({args}) → {outs}"),
        ("inputs", f"{s.get('inputs', 'N(0, 1)')}, seed {s['seed']} · {s['dtype']}"),
        ("compares", "∂(v·f)/∂input, v a random cotangent per output (N(0, 1), seed): autograd "
                     "(one backward pass) vs float64 central differences of v·f"),
    ]
    if c.method != "off":
        rows.append(("check", _method(c) + (f" · {_evaluation(c)}" if c.evaluations else "")))
    if report.target:
        rows.insert(0, ("target", report.target))
    parts: list[RenderableType] = [
        Panel(labelled(rows), title="[bold]percgrad check[/]", title_align="left",
              border_style="blue", expand=False),
    ]
    if c.groups:
        parts.append(group_split(c, "Per input", "input"))
        worst = worst_panel(c)
        if worst is not None:
            parts.append(worst)
    parts += [hanging("⚠", note_sentence(n), "yellow") for n in report.notes]
    parts.append(status_line(c, check_sentence(c), f" ({s['dtype']})", f" ({s['dtype']})"))
    if report.timing and all(v is not None for v in report.timing.values()):
        t = report.timing
        parts.append(Text(f"time: autograd {t['analytic_s']:.2g} s · finite differences "
                          f"{t['numeric_s']:.2g} s", style="dim"))
    return Group(*parts)
