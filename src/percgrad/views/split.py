"""Tables that fit the width they are drawn at by splitting: columns that do not fit move to a
further table keyed by the same first column, so that no number is ever cut (inspect, check)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from percgrad.reports.numbers import num
from percgrad.views.format import bar_range, log_bar, styled_table

BAR_MAX, BAR_MIN = 14, 6


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
