"""Rich renderables for ``vanish --spectrum``: a histogram of the input–output Jacobian's
singular values and their moments against the prediction, one spectrum or several side by side.
Built from reports, returned, never printed here."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from percgrad.reports.numbers import num, sub
from percgrad.reports.phase import SpectrumReport
from percgrad.views.fit import Fitted, Prose

HIST_BAR = 24
SIDE_BY_SIDE = 38
"""Columns each spectrum needs to stand beside the others (``--compare``)."""
HIST_BINS = 12


def _edges(values: list[float]) -> tuple[list[float], bool]:
    """Histogram bin edges over the values: logarithmic when they span more than a decade."""
    lo, hi = min(values), max(values)
    bins = min(HIST_BINS, max(1, math.ceil(math.sqrt(len(values)))))
    log = lo > 0 and hi / lo > 10
    if log:
        a, b = math.log10(lo), math.log10(hi)
        return [10 ** (a + (b - a) * i / bins) for i in range(bins + 1)], True
    return [lo + (hi - lo) * i / bins for i in range(bins + 1)], False


def _edge(v: float, edges: list[float], log: bool) -> str:
    """A bin edge with enough significant digits to tell it from its neighbours."""
    step = min(abs(b - a) for a, b in itertools.pairwise(edges))
    top = max(abs(e) for e in edges)
    digits = 3 if log or step <= 0 else max(3, math.ceil(math.log10(top / step)) + 1)
    if 0.001 <= abs(v) < 1e5 or v == 0:
        return f"{v:.{min(digits, 12)}g}"
    return f"{v:.{min(digits, 12) - 1}e}"


class Histogram:
    """A horizontal histogram of singular values: one line per bin, its range, a bar and its
    count; the bars shrink to fit the width (the labels and counts never do)."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = [v for v in values if math.isfinite(v)]

    def _bins(self) -> tuple[list[str], list[int], bool] | None:
        vals = self.values
        lo, hi = min(vals), max(vals)
        if hi - lo <= 1e-9 * max(abs(hi), 1e-300):
            return None
        edges, log = _edges(vals)
        counts = [0] * (len(edges) - 1)
        for v in vals:
            if log:
                span = math.log10(edges[-1]) - math.log10(edges[0])
                i = int((math.log10(v) - math.log10(edges[0])) / span * len(counts))
            else:
                i = int((v - edges[0]) / (edges[-1] - edges[0]) * len(counts))
            counts[min(max(i, 0), len(counts) - 1)] += 1
        labels = [f"{_edge(a, edges, log)}–{_edge(b, edges, log)}" for a, b in itertools.pairwise(edges)]
        return labels, counts, log

    def text(self, width: int) -> Text:
        """The histogram in at most ``width`` characters (the bars take what is left)."""
        out = Text(no_wrap=True, overflow="ignore")
        if not self.values:
            out.append("no finite singular values", style="yellow")
            return out
        bins = self._bins()
        if bins is None:
            lo, hi = min(self.values), max(self.values)
            what = "one singular value" if len(self.values) == 1 else f"all {len(self.values)} equal"
            out.append(f"{what}: {num(hi, 6)}", style="bold")
            out.append(f" (spread {num(hi - lo, 2)})" if hi > lo else "")
            return out
        labels, counts, log = bins
        lw = max(len(x) for x in labels)
        cw = len(str(max(counts)))
        room = max(1, min(HIST_BAR, width - lw - cw - 2))
        top = max(counts)
        for label, n in zip(labels, counts):
            bar = max(1, round(n / top * room)) if n else 0
            out.append(f"{label:>{lw}} ")
            out.append("█" * bar, style="cyan")
            out.append(f" {n}\n" if n else " ·\n", style="" if n else "dim")
        out.append(f"{'log' if log else 'linear'} bins of σ", style="dim")
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.text(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        bins = self._bins() if self.values else None
        if bins is None:
            return Measurement(10, min(40, options.max_width))
        labels, counts, _ = bins
        least = max(len(x) for x in labels) + len(str(max(counts))) + 3
        return Measurement(min(least, options.max_width), min(least + HIST_BAR, options.max_width))


def histogram(values: Sequence[float], width: int = 80) -> Text:
    """The histogram as text of at most ``width`` characters."""
    return Histogram(values).text(width)


def _moments_lines(sp: SpectrumReport) -> list[RenderableType]:
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(justify="right")
    table.add_column(justify="right")
    table.add_row(Text("σ² of ∂h/∂x", style="bold"), Text("measured", style="bold"),
                  Text("predicted", style="bold"))
    table.add_row("mean", num(sp.mean_sq, 4), num(sp.predicted_mean, 4))
    table.add_row("variance", num(sp.var_sq, 4), num(sp.predicted_var, 4))
    table.add_row("variance/mean²", num(sp.rel_var, 4), num(sp.predicted_rel_var, 4))
    lines: list[RenderableType] = [table]
    if sp.predicted_var == 0 and sp.var_sq < 1e-12 * max(sp.mean_sq**2, 1e-300):
        lines.append(Text("variance 0 up to float64 round-off", style="green"))
    lines.append(Prose(sp.reason, style="dim"))
    if sp.passed:
        lines.append(Text.assemble(("✔ ", "green"), f"matches torch.func.jacrev: max rel. error "
                                   f"{num(sp.jacrev_rel_error, 2)} ≤ {num(sp.tolerance, 1)}"))
    else:
        lines.append(Text.assemble(("✘ ", "bold red"), f"differs from torch.func.jacrev: max rel. "
                                   f"error {num(sp.jacrev_rel_error, 2)} > {num(sp.tolerance, 1)}"))
    return lines


def spectrum_group(sp: SpectrumReport) -> Group:
    """One spectrum: histogram and moments."""
    return Group(Histogram(sp.singular_values), *_moments_lines(sp))


def _spectrum_title(sp: SpectrumReport) -> str:
    n = len(sp.singular_values)
    return (f"Singular values of ∂h{sub(sp.depth)}/∂x, sample {sp.sample} "
            f"({n} value{'' if n == 1 else 's'}; float64)")


def spectrum_section(
    spectra: SpectrumReport | Iterable[SpectrumReport | None] | None,
) -> list[RenderableType]:
    """``vanish --spectrum``: one spectrum, or several side by side (``--compare``)."""
    if spectra is None:
        return []
    if isinstance(spectra, SpectrumReport):
        return [Panel(spectrum_group(spectra), title=_spectrum_title(spectra), title_align="left",
                      expand=False)]
    shown = [sp for sp in spectra if sp is not None]
    if not shown:
        return []
    first = shown[0]
    panels = [Panel(spectrum_group(sp), title=str(sp.label or ""), title_align="left")
              for sp in shown]

    def build(width: int) -> RenderableType:
        if width < SIDE_BY_SIDE * len(panels):
            return Group(*panels)
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in panels:
            grid.add_column(ratio=1)
        grid.add_row(*panels)
        return grid

    return [Text(_spectrum_title(first), style="bold"), Fitted(build)]
