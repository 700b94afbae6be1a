"""Rich renderables for ``phase``: the phase diagram as a heatmap (a coloured cell per grid
point, the predicted and measured critical lines marked, axes labelled), the critical lines by
σ_b², the correlation and training summaries. Built from reports, returned, never printed here."""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from percgrad.catalog import ACTIVATIONS
from percgrad.reports.numbers import num
from percgrad.reports.phase import PhaseReport
from percgrad.views.fit import Prose
from percgrad.views.format import styled_table

CLIP_DB = 6.0
"""The colour saturates at ±6 dB (a factor 4 per layer)."""
BLUE, WHITE, RED = (33, 102, 172), (247, 247, 247), (178, 24, 43)
PREDICTED_MARK, MEASURED_MARK, BOTH_MARK = "│", "┆", "║"

Cell = Callable[[int, int, int], tuple[str, str]]
"""(row, column, characters) → (text, style) of one grid cell."""


def decibels(factor: float | None) -> float | None:
    """10·log₁₀ of a factor per layer (None where it is missing or not positive)."""
    if factor is None or not (factor > 0 and math.isfinite(factor)):
        return None
    return 10.0 * math.log10(factor)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t))


def diverging(db: float) -> str:
    """A Rich style: blue below 0 (ordered), white at 0, red above (chaotic), black or white text."""
    t = max(-1.0, min(1.0, db / CLIP_DB))
    rgb = _mix(WHITE, BLUE, -t) if t < 0 else _mix(WHITE, RED, t)
    light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140
    return f"{'black' if light else 'white'} on #{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}"


def slot_of(columns: Sequence[float], value: float | None) -> int | None:
    """The column whose left edge a crossing at ``value`` is drawn on: the first column at or
    beyond it (None outside the grid)."""
    tol = 1e-6 * max(1.0, abs(value)) if value is not None else 0.0
    if value is None or not columns or value > columns[-1] + tol or value < columns[0] - tol:
        return None
    return min(bisect.bisect_left(columns, value - tol), len(columns) - 1)


def _label(v: float) -> str:
    return f"{v:g}"


def cell_text(factor: float | None, room: int) -> str:
    """A factor per layer in ``room`` characters: its change in percent, 100·(factor − 1), with 3
    or more; in dB, 10·log₁₀ factor, with 2; its sign with 1 (≪/≫ where a number does not fit)."""
    db = decibels(factor)
    if db is None or factor is None:
        return "·".rjust(room)
    if room <= 1:
        return "−" if db <= -0.2 else ("+" if db >= 0.2 else "0")
    value = round(100.0 * (factor - 1.0)) if room >= 3 else round(db)
    text = str(value)
    if len(text) > room:
        text = ("≪" if value < 0 else "≫") * room
    return text.rjust(room)

UNITS = {
    3: "cell: the change of ‖δ‖² per layer in %, 100·(factor − 1), measured",
    2: "cell: the measured factor per layer in dB, 10·log₁₀ factor",
    1: "cell: the sign of ln(measured factor): − shrinks, + grows, 0 within ±5%",
}
"""What a cell shows, by the characters it has for its number."""


@dataclass
class Grid:
    """A σ_b² × σ_w² grid drawn as text: σ_w² across (columns), σ_b² up (rows, the first at
    the bottom), a mark on the left edge of a cell for each row's critical crossings, and labelled
    axes. Fits the width it is given (cells shrink from 4 characters to 1)."""

    columns: list[float]
    rows: list[float]
    cell: Cell
    """(row, column, characters) → (text, style)."""
    predicted: list[float | None]
    measured: list[float | None]
    units: dict[int, str] | None = None
    """A first line saying what a cell shows, by the characters it has (see ``UNITS``)."""
    x_title: str = "σ_w²"
    y_title: str = "σ_b²"

    def cell_width(self, width: int) -> int:
        """Characters per cell at ``width``: a mark slot and up to 3 for the number."""
        lw = max(len(self.y_title), *(len(_label(r)) for r in self.rows))
        return min(4, (width - lw - 2) // max(len(self.columns), 1))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        cw = self.cell_width(width)
        if self.units and cw >= 1:
            yield Prose(self.units[max(1, min(cw - 1, 3))], style="dim")
        yield self.text(width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        lw = max(len(self.y_title), *(len(_label(r)) for r in self.rows))
        natural = lw + 2 + 4 * len(self.columns) + len(self.x_title) + 2
        return Measurement(min(natural, options.max_width), min(natural, options.max_width))

    def text(self, width: int) -> Text:
        """The grid as lines of at most ``width`` characters."""
        cols = len(self.columns)
        lw = max(len(self.y_title), *(len(_label(r)) for r in self.rows))
        x0 = lw + 2
        cw = min(4, (width - x0) // max(cols, 1))
        out = Text(no_wrap=True, overflow="ignore")
        if cw < 1:
            out.append(f"(the grid's {cols} columns do not fit in {width} characters: see --json "
                       "or --plot)")
            return out
        out.append(f"{self.y_title:>{lw}}\n", style="bold")
        for i_b in range(len(self.rows) - 1, -1, -1):
            out.append(f"{_label(self.rows[i_b]):>{lw}} │")
            p_slot = slot_of(self.columns, self.predicted[i_b])
            m_slot = slot_of(self.columns, self.measured[i_b])
            for i_w in range(cols):
                mark = ""
                if i_w in (p_slot, m_slot):
                    mark = BOTH_MARK if p_slot == m_slot else (
                        PREDICTED_MARK if i_w == p_slot else MEASURED_MARK)
                text, style = self.cell(i_b, i_w, max(1, cw - 1))
                if cw == 1:
                    if mark:
                        out.append(mark, style="bold")
                    else:
                        out.append(text[-1:], style=style)
                    continue
                out.append(mark or " ", style="bold" if mark else "")
                out.append(text.rjust(cw - 1)[-(cw - 1):], style=style)
            out.append("\n")
        out.append(" " * lw + " └" + "─" * (cols * cw) + "\n")
        out.append(self._axis(lw, x0, cw, width))
        return out

    def _axis(self, lw: int, x0: int, cw: int, width: int) -> str:
        labels = [_label(c) for c in self.columns]
        line = [" "] * (x0 + len(self.columns) * cw)
        last_end = -2
        for i, text in enumerate(labels):
            end = x0 + (i + 1) * cw  # right-aligned under the cell's number
            start = max(end - len(text), 0)
            if start <= last_end + 1:
                continue
            line[start:end] = list(text)
            last_end = end - 1
        axis = "".join(line).rstrip()
        title = f"  {self.x_title}"
        if len(axis) + len(title) <= width:
            return axis + title
        return axis + "\n" + title.strip().rjust(min(width, len(line)))


def heatmap(report: PhaseReport) -> Grid:
    """The measured factor of every point in dB, with both critical lines."""
    def cell(i_b: int, i_w: int, room: int) -> tuple[str, str]:
        factor = report.point(i_b, i_w).measured_factor
        db = decibels(factor)
        return cell_text(factor, room), ("dim" if db is None else diverging(db))

    return Grid(report.sigma_w2, report.sigma_b2, cell, [c.predicted for c in report.critical],
                [c.measured for c in report.critical], units=UNITS)


def _scale() -> Text:
    out = Text("colour: ")
    for db in (-6, -3, 0, 3, 6):
        out.append(f"{db:+d} dB" if db else "0 dB", style=diverging(db))
        out.append(" ")
    out.append("(saturates at ±6)")
    return out


def _header(report: PhaseReport) -> Panel:
    s = report.settings
    sym = ACTIVATIONS[s["activation"]].symbol
    depth, width = s["depth"], s["width"]
    dev = report.device
    where = dev["type"] if dev["type"] == "cpu" else s["device"]
    cols, rows_n = len(report.sigma_w2), len(report.sigma_b2)
    rows: list[tuple[str, RenderableType]] = [
        ("model", Prose(f"`h_k = {sym}(W_k h_k−1 + b_k)`, k = 1…{depth}, width {width}")),
        ("init", Prose(f"`W_k ~ N(0, σ_w²/{width})`, `b_k ~ N(0, σ_b²)`")),
        ("grid", Prose(f"{cols} σ_w² × {rows_n} σ_b² = {cols * rows_n} chains, one stack (torch.bmm)")),
        ("δ", Prose("of `E = Σ g ⊙ h_L`, `g ~ N(0, 1)` fixed (independent of the forward pass)")),
        ("run", Prose(f"{where} ({dev['name']}) · {s['dtype']} · seed {s['seed']} · batch {s['batch']}")),
    ]
    return Panel(_rows(rows), title=f"[bold]percgrad phase[/] — {s['activation']}: order to chaos",
                 title_align="left", border_style="blue", expand=False)


def _legend(report: PhaseReport) -> Prose:
    s = report.settings
    a, b = report.window
    depth = s["depth"]
    return Prose(
        f"factor: `‖δ_k‖²/‖δ_k+1‖²`, geometric mean over layers {a}–{b} of {depth} (the first "
        f"{a - 1} and last {depth - b} left out); blue: ‖δ‖² shrinks towards the input "
        f"(ordered), red: it grows (chaotic). {PREDICTED_MARK} predicted edge of chaos "
        f"(`χ₁ = 1`) · {MEASURED_MARK} measured (the factor crosses 1) · {BOTH_MARK} both: on "
        "the left edge of the first column past the crossing.", style="dim")


def critical_table(report: PhaseReport) -> list[RenderableType]:
    """The two critical lines, row by row, and how each is found."""
    table = styled_table("Edge of chaos: critical σ_w² by σ_b²")
    for name in ("σ_b²", "predicted χ₁ = 1", "measured", "|Δ|", "≤ 1 step"):
        table.add_column(name, justify="right", no_wrap=True)
    for c in report.critical:
        mark = {True: "[green]✔[/]", False: "[red]✘[/]", None: "—"}[c.agrees]
        table.add_row(_label(c.sigma_b2), num(c.predicted, 4), num(c.measured, 4),
                      num(c.gap, 2), mark)
    note = Prose("predicted: the root of `χ₁(σ_w²) = 1`, `χ₁ = σ_w²·E[φ′(√q*·z)²]` at the fixed "
                 "point `q* = σ_w²·E[φ(√q*·z)²] + σ_b²`, z ~ N(0, 1); measured: where "
                 "`ln(measured factor)` crosses 0, interpolated between neighbouring grid points; "
                 "— where a line does not cross inside the grid.", style="dim")
    return [table, note]


def _quartiles(values: list[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    if len(values) < 4:
        m = statistics.median(values)
        return min(values), m, max(values)
    q = statistics.quantiles(values, n=4)
    return q[0], q[1], q[2]


def _rows(rows: list[tuple[str, RenderableType]]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    for label, body in rows:
        table.add_row(label, body)
    return table


def summary(report: PhaseReport) -> Panel:
    """χ₁ measured against predicted, the lines' agreement, correlations, the check."""
    s = report.settings
    pts = report.points
    rows: list[tuple[str, RenderableType]] = []
    ratios = [r for r in (p.ratio for p in pts) if r is not None]
    qs = _quartiles(ratios)
    if qs is not None:
        rows.append(("χ₁", Prose(f"measured/predicted: median {qs[1]:.3f} over {len(ratios)} chains "
                                 f"(quartiles {qs[0]:.3f} and {qs[2]:.3f})")))
    compared = [c for c in report.critical if c.agrees is not None]
    bad = [c for c in compared if not c.agrees]
    gaps = [c for c in compared if c.gap is not None]
    worst = max(gaps, key=lambda c: c.gap or 0.0) if gaps else None
    step = min((c.step for c in compared if c.step is not None), default=None)
    if compared and not bad:
        tail = "" if worst is None else (f" (largest gap {num(worst.gap, 2)}, at σ_b² = "
                                         f"{_label(worst.sigma_b2)})")
        rows.append(("edge", Text.assemble(("✔ ", "bold green"), (
            f"the predicted and measured critical lines agree within one grid step"
            f"{'' if step is None else f' ({num(step, 3)})'} in all {len(compared)} rows{tail}"))))
    elif bad:
        apart = ", ".join(_label(c.sigma_b2) for c in bad if c.gap is not None)
        alone = ", ".join(_label(c.sigma_b2) for c in bad if c.gap is None)
        said = [f"the critical lines are more than one grid step apart at σ_b² = {apart}"] if apart else []
        if alone:
            said.append(f"only one critical line crosses inside the grid at σ_b² = {alone}")
        rows.append(("edge", Text.assemble(("✘ ", "bold red"), "; ".join(said))))
    outside = [c for c in report.critical if c.agrees is None]
    if outside:
        rows.append(("", Text(f"{len(outside)} row(s) have no crossing inside the grid", style="dim")))
    ordered = [p for p in pts if p.c_star == 1.0 and p.measured_c is not None and p.sigma_b2 > 0]
    chaotic = [p for p in pts if p.c_star is not None and p.c_star < 1.0 and p.measured_c is not None
               and p.predicted_c is not None]
    if ordered or chaotic:
        parts = [f"{s['batch']} pairs of inputs of correlation {s['pair_correlation']:g}, after "
                 f"{s['depth']} layers:"]
        if ordered:
            med = statistics.median(p.measured_c or 0.0 for p in ordered)
            parts.append(f"ordered (χ₁ < 1, σ_b² > 0): measured c median {med:.4f}, c* = 1;")
        if chaotic:
            gap = statistics.median(abs((p.measured_c or 0.0) - (p.predicted_c or 0.0)) for p in chaotic)
            cs = [p.c_star for p in chaotic if p.c_star is not None]
            parts.append(f"chaotic: c* from {num(min(cs), 2)} to {num(max(cs), 2)}; measured c (mean "
                         f"over the pairs) within {num(gap, 2)} of the two-input recursion's "
                         "(median over the points)")
        if 0.0 in report.sigma_b2:
            parts.append("— at σ_b² = 0 the ordered side has q* = 0: the signal dies and c* is "
                         "undefined")
        rows.append(("c", Prose(" ".join(parts))))
    c = report.check
    checked = ", ".join(str(i + 1) for i in c.points)
    if c.passed is None:
        rows.append(("check", Text("? none of the checked chains stayed finite", style="yellow")))
    else:
        style, mark = ("bold green", "✔") if c.passed else ("bold red", "✘")
        cmp = "≤" if c.passed else ">"
        rows.append(("check", Text.assemble((f"{mark} ", style), (
            f"batched hand-derived δ vs autograd on chains {checked}: max relative error "
            f"{num(c.max_rel_error, 2)} {cmp} {num(c.tolerance, 1)} ({s['dtype']})"))))
    for w in report.warnings:
        rows.append(("⚠", Text(w, style="yellow")))
    return Panel(_rows(rows), title="Measured against mean-field theory", title_align="left",
                 expand=False)


def training_section(report: PhaseReport) -> list[RenderableType]:
    """Which points trained, against the prediction depth ≤ 6ξ."""
    tr = report.training
    if tr is None:
        return []

    def cell(i_b: int, i_w: int, room: int) -> tuple[str, str]:
        p = report.point(i_b, i_w)
        mark = "✔" if p.trained else ("✘" if p.trained is False else "·")
        text = f"({mark})" if p.predicted_trainable and room >= 3 else mark
        back = "on #b8e0b8" if p.predicted_trainable else "on #d9d9d9"
        return text, f"black {back}"

    grid = Grid(report.sigma_w2, report.sigma_b2, cell, [c.predicted for c in report.critical],
                [None] * len(report.sigma_b2))
    depth = report.settings["depth"]
    title = Text(f"Training: {tr.steps} steps of gradient descent, lr {tr.lr:g}", style="bold")
    legend = Prose(
        f"✔ trained: held-out loss ≤ {tr.threshold:g} × that of the best constant output · ✘ not · "
        f"(…) and green: predicted trainable, depth {depth} ≤ {tr.trainable_depths:g}ξ, "
        f"`ξ = 1/|ln χ₁|` · {PREDICTED_MARK} predicted edge of chaos. Task: {tr.task}.",
        style="dim")
    share = "—" if tr.agreement is None else f"{tr.agreement:.0%}"
    agree = Prose(f"trained = predicted trainable at {share} of the points (Schoenholz et al.'s "
                  "6ξ is for long training)")
    return [title, grid, legend, agree]


def _seconds(v: float) -> str:
    return f"{v:.0f} s" if v >= 100 else f"{v:.2g} s"


def phase(report: PhaseReport) -> list[RenderableType]:
    """Everything ``percgrad phase`` shows."""
    s = report.settings
    title = Text(f"Phase diagram of {s['activation']}: measured factor of ‖δ‖² per layer",
                 style="bold")
    parts: list[RenderableType] = [
        _header(report), title, heatmap(report), _legend(report), _scale(),
        *critical_table(report), summary(report),
    ]
    parts += training_section(report)
    t = report.timing
    if t:
        pieces = [f"{k.removesuffix('_s')} {_seconds(v)}" for k, v in t.items() if k != "total_s"]
        parts.append(Prose(f"time: {_seconds(t.get('total_s', 0.0))} ({' · '.join(pieces)})",
                           style="dim"))
    return parts
