"""Renderables that fit the width they are given without cutting a number: tables that drop
their least useful columns first (and say so), and prose that wraps at word boundaries but
keeps each formula whole."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

NATURAL = 10_000
"""A width no table reaches: what a renderable measures at when nothing constrains it."""


class Fitted:
    """A renderable built for the width it is rendered at (``build(width)``)."""

    def __init__(self, build: Callable[[int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.build(options.max_width))


@dataclass
class Column:
    """One column of a fitted table."""

    header: str
    cells: Sequence[RenderableType]
    justify: Literal["left", "right"] = "right"
    drop: int = 0
    """0: always shown; otherwise dropped when the table is too wide, highest first."""
    style: str | None = None
    what: str = ""
    """How the note names the column when it is dropped (default: its header)."""
    wrap: bool = False
    """True for vectors, which may wrap between their elements; numbers never wrap."""
    legend: str = ""
    """A caption item that explains this column: shown only with it."""


@dataclass
class FitTable:
    """A table that fits: columns are dropped, highest ``drop`` first, until it does."""

    title: str
    columns: list[Column]
    caption: list[str] = field(default_factory=list)
    """Legend items, each kept on one line where the width allows (formulas in backticks)."""
    hint: str = "--save FILE.html or --json have every column"
    wrap_from: int = NATURAL
    """From this width on, columns that may wrap (vectors) do so before any column is dropped."""

    def table(self, columns: list[Column]) -> Table:
        """The Rich table of ``columns``, in the house style."""
        table = Table(title=self.title, title_justify="left", title_style="bold",
                      box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)
        for c in columns:
            table.add_column(c.header, justify=c.justify, style=c.style, no_wrap=not c.wrap,
                             overflow="fold")
        rows = max((len(c.cells) for c in columns), default=0)
        for i in range(rows):
            table.add_row(*[c.cells[i] if i < len(c.cells) else "" for c in columns])
        return table

    def build(self, width: int) -> RenderableType:
        """The widest table of these columns that fits ``width``, its caption and a note."""
        console = Console(width=NATURAL, file=io.StringIO())
        shown = list(self.columns)
        order = sorted((c for c in self.columns if c.drop), key=lambda c: -c.drop)
        dropped: list[Column] = []
        while not self._fits(console, shown, width) and order:
            gone = order.pop(0)
            dropped.append(gone)
            shown = [c for c in shown if c is not gone]
        parts: list[RenderableType] = [self.table(shown)]
        items = [c.legend for c in shown if c.legend] + list(self.caption)
        if items:
            parts.append(Prose(" · ".join(items), style="dim"))
        if dropped:
            names = ", ".join(c.what or c.header for c in dropped)
            parts.append(Prose(f"not shown at this width: {names} ({self.hint})", style="dim"))
        from rich.console import Group

        return Group(*parts)

    def _fits(self, console: Console, columns: list[Column], width: int) -> bool:
        table = self.table(columns)
        if width >= self.wrap_from:
            options = console.options.update(width=NATURAL)
            return Measurement.get(console, options, table).minimum <= width
        return _width(console, table) <= width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = _width(console, self.table(list(self.columns)))
        return Measurement(min(width, options.max_width), min(width, options.max_width))


def _width(console: Console, table: Table) -> int:
    return Measurement.get(console, console.options.update(width=NATURAL), table).maximum


_WORD = re.compile(r"(?:`[^`]*`|[^\s`])+")


class Prose:
    """Text wrapped at word boundaries that never breaks inside a `formula` (backticks mark
    one; they are not printed) nor inside a number. ``indent`` starts every line, ``hang``
    continuation lines."""

    def __init__(self, text: str, style: str | None = None, indent: str = "",
                 hang: str = "") -> None:
        self.text = text
        self.style = style
        self.indent = indent
        self.hang = hang

    def _tokens(self) -> list[str]:
        return [m.group(0).replace("`", "") for m in _WORD.finditer(self.text)]

    def lines(self, width: int) -> list[str]:
        """The wrapped lines."""
        out: list[str] = []
        line = ""
        for token in self._tokens():
            lead = self.indent + (self.hang if out else "")
            candidate = f"{line} {token}" if line else lead + token
            if len(candidate) <= width or not line:
                line = candidate
            else:
                out.append(line)
                line = self.indent + self.hang + token
        if line:
            out.append(line)
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines(options.max_width):
            yield Text(line, style=self.style or "", no_wrap=True, overflow="fold")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        tokens = self._tokens()
        longest = max((len(t) for t in tokens), default=0) + len(self.indent + self.hang)
        full = len(self.indent) + len(" ".join(tokens))
        return Measurement(min(longest, options.max_width), min(full, options.max_width))


PREFERRED = 100
"""A file's width when only wrapping columns (vectors) would make it wider."""


def widest(parts: Iterable[RenderableType], floor: int = 80, ceiling: int = 240) -> int:
    """The natural width of the widest table among ``parts`` (prose wraps to it), clamped. A
    table wider than PREFERRED only because of columns that may wrap (vectors) counts as
    PREFERRED, or as the least it needs with them wrapped."""
    console = Console(width=NATURAL, file=io.StringIO())
    best = floor
    for part in parts:
        if isinstance(part, FitTable | Table):
            table = part.table(list(part.columns)) if isinstance(part, FitTable) else part
            need = _width(console, table)
            if need > PREFERRED and isinstance(part, FitTable) and any(c.wrap for c in part.columns):
                least = Measurement.get(console, console.options.update(width=NATURAL), table).minimum
                need = max(PREFERRED, least)
            best = max(best, need)
    return min(best, ceiling)
