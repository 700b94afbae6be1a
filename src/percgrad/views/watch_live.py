"""What ``watch`` shows while the script runs (Rich Live): every module over the last watched
steps as a small heatmap of log ‖∂E/∂W‖, the current step, the loss and the verdicts so far.
Built from plain Text, so that a redraw stays cheap (a few ms for 50 modules)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from percgrad.reports.numbers import num
from percgrad.reports.user_sentences import listed, percent
from percgrad.reports.watch import WatchReport
from percgrad.reports.watch_sentences import verdict_title

RECENT = 12
"""Watched steps in the heatmap."""
MAX_ROWS = 60
"""Module rows shown at most (the rest elided in the middle)."""
CELL = "██"
PALETTE = ("#313695", "#4575b4", "#74add1", "#abd9e9", "#fee090", "#fdae61", "#f46d43",
           "#d73027")
"""Small to large log ‖∂E/∂W‖ over the window (blue: vanishing side, red: exploding side)."""
COLOURS = tuple(Style(color=c) for c in PALETTE)
DIM, RED = Style(dim=True), Style(bold=True, color="red")
KIND_STYLES = {"non-finite": "bold red", "exploding": "bold red", "update-high": "red",
               "vanishing": "yellow", "dead": "magenta", "update-low": "yellow"}


def _logs(values: Sequence[float | None]) -> list[float | None]:
    """log10 of each positive finite value; None for the rest (NaN, ∞, 0 or missing)."""
    return [math.log10(v) if v is not None and v > 0 and math.isfinite(v) else None
            for v in values]


def _cell(raw: float | None, log: float | None, lo: float, hi: float) -> tuple[str, Style]:
    if log is not None:
        i = 0 if hi <= lo else round((log - lo) / (hi - lo) * (len(PALETTE) - 1))
        return CELL, COLOURS[i]
    if raw is None:
        return "··", DIM
    if raw == 0:
        return "00", DIM
    return "××", RED


class Lines:
    """Lines of styled pieces, yielded as Rich segments as they are (no wrapping, cropped to
    the width): the cheapest renderable to redraw many times a second."""

    def __init__(self) -> None:
        self.lines: list[list[tuple[str, Style | None]]] = []

    def add(self, *pieces: tuple[str, Style | None]) -> None:
        """A line of (text, style) pieces, runs of one style merged."""
        line: list[tuple[str, Style | None]] = []
        for text, style in pieces:
            if line and line[-1][1] is style:
                line[-1] = (line[-1][0] + text, style)
            else:
                line.append((text, style))
        self.lines.append(line)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        for line in self.lines:
            used = 0
            for text, style in line:
                if used + len(text) > width:
                    text = text[:width - used]
                if text:
                    yield Segment(text, style)
                used += len(text)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max((sum(len(t) for t, _ in line) for line in self.lines), default=0)
        return Measurement(widest, widest)


def _fit(name: str, width: int) -> str:
    """``name`` in exactly ``width`` characters (cut in the middle when longer)."""
    if len(name) <= width:
        return name.ljust(width)
    keep = width - 1
    return name[:keep - keep // 2] + "…" + name[len(name) - keep // 2:] if keep > 0 else name[:width]


def _rows(n: int) -> list[int | None]:
    """Which module rows to show (None: the elision) when there are ``n``."""
    if n <= MAX_ROWS:
        return list(range(n))
    half = (MAX_ROWS - 1) // 2
    return [*range(half), None, *range(n - (MAX_ROWS - 1 - half), n)]


def live_table(report: WatchReport, width: int) -> RenderableType:
    """The live view of the run so far, for a terminal ``width`` columns wide."""
    steps = report.steps
    head = Text.assemble(("percgrad watch ", "bold"), (report.target or "", "cyan"))
    head.append(f" · {report.total_steps} step(s), {len(steps)} watched")
    losses = [v for v in report.loss if v is not None and math.isfinite(v)]
    if report.loss:
        last = report.loss[-1]
        head.append(" · loss ")
        head.append(num(last), style="" if last is not None and math.isfinite(last)
                    else "bold red")
        if losses and (last is None or not math.isfinite(last)):
            head.append(f" (last finite {num(losses[-1])})", style="dim")
    lines: list[RenderableType] = [head]
    mods = report.modules
    if steps and mods:
        value_w = 10
        name_w = min(max(len(m.name) for m in mods), max(6, width // 4))
        cells = max(1, min(RECENT, len(steps), (width - name_w - value_w - 2) // 2))
        window = slice(len(steps) - cells, len(steps))
        raws = [list(m.grad_norm[window]) + [None] * (cells - len(m.grad_norm[window]))
                for m in mods]
        logs = [_logs(r) for r in raws]
        good = [v for row in logs for v in row if v is not None]
        lo, hi = (min(good), max(good)) if good else (0.0, 0.0)
        body = Lines()
        label = f"steps {steps[window.start]}…{steps[-1]}" if cells > 1 else f"step {steps[-1]}"
        body.add((" " * (name_w + 1) + label[:2 * cells].ljust(2 * cells)
                  + " ‖∂E/∂W‖".rjust(value_w + 1), DIM))
        for i in _rows(len(mods)):
            if i is None:
                body.add((f"… {len(mods) - MAX_ROWS + 1} more", DIM))
                continue
            row = [_cell(raw, log, lo, hi) for raw, log in zip(raws[i], logs[i])]
            body.add((_fit(mods[i].name, name_w) + " ", None), *row,
                     (" " + num(raws[i][-1], 3).rjust(value_w), None))
        if good:
            body.add((f"colour: log ‖∂E/∂W‖ {num(10 ** lo, 2)} ", DIM),
                     *[("█", c) for c in COLOURS],
                     (f" {num(10 ** hi, 2)} · ×× not finite · 00 zero", DIM))
        lines.append(body)
    for v in report.verdicts:
        if v.through is not None:
            continue  # no longer holds
        line = Text(verdict_title(v), style=KIND_STYLES.get(v.kind, "bold"))
        nf = report.nonfinite
        if v.kind == "non-finite" and nf is not None:
            line.append(f": {nf.phase}" + (f", {nf.op}" if nf.op else "")
                        + (f" in {nf.module}" if nf.module else "")
                        + (f" at {nf.source}" if nf.source else ""))
        elif v.modules:
            line.append(": " + listed(v.modules))
        if v.value is not None and v.kind != "non-finite":
            value = percent(v.value) if v.kind == "dead" else num(v.value, 2)
            line.append(f" ({value})", style="dim")
        line.truncate(width, overflow="ellipsis")
        lines.append(line)
    return Group(*lines)
