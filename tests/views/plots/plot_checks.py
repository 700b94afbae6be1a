"""What the plot tests read off a drawn figure: its lines by style, their colours, the legends'
and the axes' boxes, the verdict box, and the text outside mathtext."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

SYMBOLS = re.compile(r"[_²δσχ‖∂]")
"""What belongs in mathtext: a subscript, a square, a Greek letter, a norm, a partial."""


def drawn(fig: Any) -> Any:
    """The figure, drawn once so that every box has its final place."""
    fig.canvas.draw()
    return fig


def data_axes(fig: Any) -> list[Any]:
    """The axes that hold data (not the verdict row, not a colour bar)."""
    return [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"]


def lines(ax: Any, style: str | None = None) -> list[Line2D]:
    """The axes' lines with data (not a legend's proxy), optionally of one line style."""
    found = [ln for ln in ax.get_lines() if len(ln.get_xdata()) and ln.get_linestyle() != "None"]
    return [ln for ln in found if style is None or ln.get_linestyle() == style]


def colour(artist: Any) -> str:
    """An artist's colour as #rrggbb."""
    get = artist.get_color if hasattr(artist, "get_color") else artist.get_facecolor
    return to_hex(get())


def assert_distinct_colours(artists: Iterable[Any]) -> None:
    """No two of ``artists`` share a colour."""
    seen = [colour(a) for a in artists]
    assert len(seen) == len(set(seen)), seen


def legends(fig: Any) -> list[Any]:
    """Every legend: of the figure and of each axes."""
    found = list(fig.legends)
    found += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return found


def overlap(a: Any, b: Any) -> float:
    """The area two display boxes share, as a share of the first's."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, w) * max(0.0, h) / max(a.width * a.height, 1e-9)


def assert_legends_clear(fig: Any, tolerance: float = 0.01) -> None:
    """No legend covers the data: each lies (within ``tolerance`` of its area) outside every data
    axes, so outside every line drawn in them."""
    renderer = drawn(fig).canvas.get_renderer()
    found = legends(fig)
    assert found, "no legend"
    for legend in found:
        box = legend.get_window_extent(renderer)
        for ax in data_axes(fig):
            assert overlap(box, ax.get_window_extent(renderer)) <= tolerance, ax.get_label()
            for ln in lines(ax):
                assert overlap(box, ln.get_window_extent(renderer)) <= tolerance


def verdict(fig: Any) -> str:
    """The verdict box's text (the left title of the figure's verdict row)."""
    row = [ax for ax in fig.axes if not ax.axison and ax.get_title(loc="left")]
    assert row, "no verdict box"
    return str(row[0].get_title(loc="left"))


def labels(fig: Any) -> list[str]:
    """Axis labels and legend entries: where a symbol must be mathtext."""
    found = [t for ax in fig.axes for t in (ax.get_xlabel(), ax.get_ylabel())]
    found += [t.get_text() for legend in legends(fig) for t in legend.get_texts()]
    return [t for t in found if t]


def outside_math(text: str) -> str:
    """``text`` without its $…$ parts."""
    return re.sub(r"\$[^$]*\$", "", text)


def assert_symbols_in_mathtext(texts: Iterable[str]) -> None:
    """Every subscript, square, Greek letter, norm and partial sits inside $…$."""
    for text in texts:
        assert not SYMBOLS.search(outside_math(text)), text
