"""A layer's weight matrix and its three gradient matrices, side by side on the same rows and
columns, each numbered. Large matrices are elided in the middle like NumPy, but the entries that
the worked lines (or the check's failures) cite are always shown. As many columns as the width
allows; a title never wraps, and every row of a band sits beside the same row of the others."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Group, RenderableType
from rich.text import Text

from percgrad.reports.run import LayerReport
from percgrad.views.fit import Fitted
from percgrad.views.format import EDGE, matrix_format

SEP = 2
"""Spaces between two columns of a matrix."""
GAP = 4
"""Spaces between two matrices of a band."""
LABEL_GAP = 2
"""Spaces between the row numbers and the first matrix."""

Index = list[int | None]
"""Rows or columns shown, None where some are elided."""


def shown(n: int, edge: int, keep: Iterable[int] = (), fill: bool = True) -> Index:
    """The first and last ``edge`` of n indices and those in ``keep``, None for each elided run
    (with ``fill``, a run of one is shown rather than elided); at least one index."""
    picked = set(range(min(edge, n))) | set(range(max(n - edge, 0), n))
    picked |= {k for k in keep if 0 <= k < n}
    out: Index = []
    prev = -1
    for k in sorted(picked or {0}):
        if k - prev == 2 and fill:
            out.append(prev + 1)
        elif k - prev >= 2:
            out.append(None)
        out.append(k)
        prev = k
    if prev < n - 1:
        out.append(n - 1 if prev == n - 2 and fill else None)
    return out


@dataclass
class Block:
    """One titled matrix."""

    name: str
    values: np.ndarray
    cited: frozenset[tuple[int, int]] = frozenset()

    @property
    def title(self) -> str:
        rows, cols = self.values.shape
        return f"{self.name} ({rows}×{cols})"

    def cell_width(self, rows: Index, cols: Index) -> int:
        fmt = matrix_format(self.values)
        width = max((len(fmt(float(self.values[r, c]))) for r in rows if r is not None
                     for c in cols if c is not None), default=1)
        return max(width, *(len(str(c)) for c in cols if c is not None))

    def width(self, rows: Index, cols: Index) -> int:
        cell = self.cell_width(rows, cols)
        data = sum(cell if c is not None else 1 for c in cols) + SEP * (len(cols) - 1)
        return max(len(self.title), data)

    def lines(self, rows: Index, cols: Index) -> list[Text]:
        """Title, column numbers, then one line per row, all as wide as the block."""
        fmt = matrix_format(self.values)
        cell, width = self.cell_width(rows, cols), self.width(rows, cols)

        def line(cells: Sequence[tuple[str, str]], lead: str = "") -> Text:
            text = Text(lead)
            for k, (value, style) in enumerate(cells):
                if k:
                    text.append(" " * SEP)
                text.append(value.rjust(cell if cols[k] is not None else 1), style=style)
            text.append(" " * (width - text.cell_len))
            return text

        out = [Text(self.title.ljust(width), style="bold"),
               line([(str(c) if c is not None else " ", "dim") for c in cols])]
        for r in rows:
            if r is None:
                out.append(line([("⋮", "dim") for _ in cols]))
                continue
            out.append(line([("…", "dim") if c is None else
                             (fmt(float(self.values[r, c])),
                              "bold underline" if (r, c) in self.cited else "")
                             for c in cols]))
        return out


def _band_width(band: list[Block], rows: Index, cols: Index, label: int) -> int:
    return label + LABEL_GAP + sum(b.width(rows, cols) for b in band) + GAP * (len(band) - 1)


def _band(band: list[Block], rows: Index, cols: Index, label: int) -> list[Text]:
    columns = [b.lines(rows, cols) for b in band]
    labels = ["", ""] + [("⋮" if r is None else str(r)) for r in rows]
    out = []
    for k, name in enumerate(labels):
        text = Text(name.rjust(label), style="dim")
        text.append(" " * LABEL_GAP)
        for m, lines in enumerate(columns):
            if m:
                text.append(" " * GAP)
            text.append_text(lines[k])
        text.rstrip()
        out.append(text)
    return out


def layout(blocks: list[Block], width: int, keep_rows: Iterable[int] = (),
           keep_cols: Iterable[int] = ()) -> tuple[Index, Index, list[list[Block]]]:
    """The rows and columns shown and the bands of blocks: as many columns as fit (the cited
    ones always), then as many blocks side by side as fit, in order."""
    n_rows, n_cols = blocks[0].values.shape
    rows = shown(n_rows, EDGE, keep_rows)
    keep_cols = list(keep_cols)
    label = max(len("⋮" if r is None else str(r)) for r in rows)
    # Fewer columns until each block fits: a lone elided column shown, then elided, and at last
    # (edge 0) the cited columns alone.
    tries = [(edge, fill) for edge in range(EDGE, 0, -1) for fill in (True, False)] + [(0, False)]
    for edge, fill in tries:
        cols = shown(n_cols, edge, keep_cols, fill)
        if all(_band_width([b], rows, cols, label) <= width for b in blocks):
            break
    bands: list[list[Block]] = [[]]
    for block in blocks:
        if bands[-1] and _band_width([*bands[-1], block], rows, cols, label) > width:
            bands.append([])
        bands[-1].append(block)
    return rows, cols, bands


def render(blocks: list[Block], width: int, keep_rows: Iterable[int] = (),
           keep_cols: Iterable[int] = ()) -> RenderableType:
    """The blocks laid out for ``width``, a blank line before each band."""
    rows, cols, bands = layout(blocks, width, keep_rows, keep_cols)
    label = max(len("⋮" if r is None else str(r)) for r in rows)
    lines: list[Text] = []
    for band in bands:
        lines.append(Text(""))
        lines += _band(band, rows, cols, label)
    for line in lines:
        line.no_wrap = True
        line.overflow = "ignore"
    return Group(*lines)


def layer_blocks(layer: LayerReport, cited: Iterable[tuple[int, int]] = ()) -> list[Block]:
    """W and ∂E/∂W analytic, autograd and numeric (those computed), ``cited`` marked."""
    g = layer.grad
    marks = frozenset(cited)
    named = [(layer.name, layer.weight, frozenset[tuple[int, int]]()),
             (f"∂E/∂{layer.name} analytic", g.analytic, marks),
             (f"∂E/∂{layer.name} autograd", g.autograd, marks),
             (f"∂E/∂{layer.name} numeric", g.numeric, marks)]
    return [Block(name, np.atleast_2d(values), m) for name, values, m in named if values is not None]


def layer_matrices(layer: LayerReport, cited: Iterable[tuple[int, int]] = ()) -> RenderableType:
    """The weight matrix and the three gradient matrices of one layer on the same rows and
    columns, ``cited`` entries (row, column) always among them, fitted to the width."""
    entries = list(cited)
    blocks = layer_blocks(layer, entries)
    if not blocks:
        return Text(f"{layer.name}: —", style="dim")
    rows = [r for r, _ in entries]
    cols = [c for _, c in entries]
    return Fitted(lambda width: render(blocks, width, rows, cols))
