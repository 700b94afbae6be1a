"""The toolkit every view draws with: the console, log bars, the house table style, vectors and
matrices as NumPy prints them, an activation's symbol."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence

import numpy as np
from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from percgrad.catalog import ACTIVATIONS
from percgrad.reports.numbers import num
from percgrad.views.fit import Fitted

BAR_WIDTH = 24
VANISH_BAR = 14
MIN_DECADES = 2
"""A log bar spans at least this many decades, so that small differences look small."""
EDGE = 3
"""Rows and columns shown at each end of an elided matrix."""
MAX_COLUMNS = 10_000
"""A wider COLUMNS is ignored (a typo, not a terminal)."""


def symbol(activation: str) -> str:
    """φ's symbol in formulas (σ, tanh, relu …)."""
    return ACTIVATIONS[activation].symbol


def make_console(record: bool = False, quiet: bool = False, width: int | None = None) -> Console:
    """The stdout console (``quiet``: records into a buffer, prints nothing). Its width: COLUMNS
    when set, else ``width`` (the output's natural width, for files and --save), else the
    terminal's."""
    columns = os.environ.get("COLUMNS", "")
    usable = columns.isascii() and columns.isdigit() and 0 < int(columns[:6]) <= MAX_COLUMNS
    chosen = int(columns) if usable and not record else width
    # Rich drops a quiet console's output before recording it, so print into a buffer instead.
    return Console(record=record, highlight=False, width=chosen, emoji=False,
                   file=io.StringIO() if quiet else None)


def log_bar(value: float, low: float, high: float, width: int = BAR_WIDTH) -> Text:
    """A bar whose length is log-proportional to ``value`` within [low, high]."""
    if not math.isfinite(value):
        return Text("non-finite", style="bold red")
    if value <= 0:
        return Text("0", style="dim")
    if high <= low:
        frac = 1.0
    else:
        frac = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    n = max(1, round(frac * width))
    return Text("█" * n, style="cyan") + Text("·" * (width - n), style="dim")


def bar_range(values: Sequence[float]) -> tuple[float, float]:
    """The smallest and largest finite positive values (the ends of a log bar)."""
    good = [v for v in values if math.isfinite(v) and v > 0]
    if not good:
        return (1.0, 1.0)
    high = max(good)
    return min(min(good), high / 10**MIN_DECADES), high


def bars_caption(values: Sequence[float], lead: str = "bars: log scale",
                 what: str = "‖∂E/∂W‖") -> str:
    """The legend of a column of log bars: its scale, or, when no value is finite and positive,
    why every bar is empty (never a degenerate "log scale 1 … 1")."""
    if any(math.isfinite(v) and v > 0 for v in values):
        low, high = bar_range(values)
        return f"{lead} {num(low, 1)} … {num(high, 2)}"
    if all(v == 0 for v in values):
        why = f"every {what} is exactly 0"
    elif any(v == 0 for v in values):
        why = f"every {what} is 0 or not finite"
    else:
        why = f"no {what} is finite"
    return f"bars: empty, as {why}"


def styled_table(title: str) -> Table:
    """The house style: bold title on the left, a rule under the header, no side borders."""
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                 pad_edge=False, collapse_padding=True, show_edge=False)


def vector(values: np.ndarray, edge: int = 4, digits: int = 3) -> str:
    """[0.54, −1.2, 2] (elided in the middle when long, like NumPy)."""
    flat = list(np.asarray(values).ravel())
    if len(flat) > 2 * edge + 1:
        parts = [num(v, digits) for v in flat[:edge]] + ["…"] + [num(v, digits) for v in flat[-edge:]]
    else:
        parts = [num(v, digits) for v in flat]
    return "[" + ", ".join(parts) + "]"


def matrix_format(values: np.ndarray) -> Callable[[float], str]:
    """One format for a whole matrix, as NumPy prints: fixed decimals when the magnitudes allow,
    else scientific, so that columns line up."""
    finite = np.abs(values[np.isfinite(values) & (values != 0)])
    if finite.size == 0:
        return lambda v: num(v)
    high, low = float(finite.max()), float(finite.min())
    if low >= 1e-3 and high < 1e4:
        decimals = min(6, max(0, 3 - math.floor(math.log10(high))))
        return lambda v: f"{v:.{decimals}f}" if math.isfinite(v) else num(v)
    return lambda v: f"{v:.3e}" if math.isfinite(v) and v != 0 else num(v)


def _matrix_table(m: np.ndarray, title: str, edge_rows: int, edge_cols: int) -> Table:
    fmt = matrix_format(m)
    rows, cols = m.shape
    r_idx: list[int | None] = list(range(rows)) if rows <= 2 * edge_rows else [
        *range(edge_rows), None, *range(rows - edge_rows, rows)]
    c_idx: list[int | None] = list(range(cols)) if cols <= 2 * edge_cols else [
        *range(edge_cols), None, *range(cols - edge_cols, cols)]
    table = Table(title=f"{title} ({rows}×{cols})", show_header=False, box=None, padding=(0, 1),
                  title_justify="left")
    for _ in c_idx:
        table.add_column(justify="right", no_wrap=True)
    for r in r_idx:
        if r is None:
            table.add_row(*["⋮" for _ in c_idx])
        else:
            table.add_row(*["…" if c is None else fmt(float(m[r, c])) for c in c_idx])
    return table


def matrix(values: np.ndarray | None, title: str, edge: int = EDGE) -> RenderableType:
    """A matrix as a borderless table, elided in the middle like NumPy, titled with its shape;
    on a narrow screen fewer columns are shown (never a cut number)."""
    if values is None:
        return Text(f"{title}\n—", style="dim")
    m = np.atleast_2d(values)
    cell = max(len(matrix_format(m)(float(v))) for v in m.ravel()[:4096]) + 2

    def build(width: int) -> RenderableType:
        for cols in range(edge, 0, -1):
            shown = min(m.shape[1], 2 * cols + (1 if m.shape[1] > 2 * cols else 0))
            if shown * cell <= width or cols == 1:
                return _matrix_table(m, title, edge, cols)
        return _matrix_table(m, title, edge, 1)

    return Fitted(build)
