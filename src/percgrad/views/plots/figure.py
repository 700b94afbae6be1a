"""What every plot shares: matplotlib on the Agg backend, writing a figure, the values a log
axis can show, and one convention for every plot: line styles (solid measured, dashed predicted,
dotted reference), a colour-blind-safe colour per series, legends outside the data and the
verdict in a box above it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from percgrad.errors import PercgradError
from percgrad.views.atomic import replacing

PLOT_FORMATS = (".png", ".svg", ".pdf")

MEASURED: Final = "-"
"""The line style of what a run measured."""
PREDICTED: Final = "--"
"""The line style of what theory predicts."""
REFERENCE: Final = ":"
"""The line style of a fixed reference: a threshold, y = x, σ = 1."""

OKABE_ITO = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#000000")
"""Okabe & Ito's colour-blind-safe palette (its yellow left out: too pale on white)."""
TONES = {"good": OKABE_ITO[2], "warn": OKABE_ITO[1], "bad": OKABE_ITO[3]}
"""The edge of a verdict box: healthy, doubtful, wrong."""
BAD_WORDS = ("vanishing", "exploding", "dead", "non-finite", "signal-lost", "fail")
"""Verdict words in the ``bad`` tone (any other but stable and pass is ``warn``)."""

LEGEND_RIGHT: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0),
                                "borderaxespad": 0.0, "fontsize": "small", "frameon": False}
"""A legend to the right of its axes, clear of the data (constrained layout makes room)."""
ABOVE: dict[str, Any] = {"loc": "lower right", "bbox_to_anchor": (1.0, 1.0), "frameon": False,
                         "borderaxespad": 0.1}
"""A panel's legend just above it, clear of its lines."""
GRID: dict[str, Any] = {"alpha": 0.3}


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or a PercgradError naming --plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PercgradError(
            "needs matplotlib, which is not installed: pip install 'percgrad[plot]'", "--plot"
        ) from None
    return plt


def save_figure(fig: Any, plt: Any, path: Path, dpi: int = 110) -> None:
    """Write ``fig`` to ``path`` (its format from the suffix) and close it."""
    try:
        with replacing(path) as temporary:  # whole or not at all, even on Ctrl-C
            fig.savefig(temporary, dpi=dpi, format=path.suffix.lstrip(".").lower())
    except (OSError, ValueError) as exc:
        raise PercgradError(f"cannot write {str(path)!r}: {exc}", "--plot") from None
    finally:
        plt.close(fig)


def positive(values: Sequence[float | None]) -> list[float]:
    """The values a log axis can show; NaN (a gap in the line) for the others."""
    return [v if v is not None and v > 0 and math.isfinite(v) else math.nan for v in values]


def colours(n: int) -> list[str]:
    """``n`` distinct colours: Okabe–Ito's, or evenly spaced viridis beyond seven."""
    if n <= len(OKABE_ITO):
        return list(OKABE_ITO[:n])
    import matplotlib.colors

    cmap = pyplot().get_cmap("viridis")
    return [matplotlib.colors.to_hex(cmap(i / (n - 1) * 0.92)) for i in range(n)]


def tone(words: Sequence[str]) -> str:
    """The tone of verdict words: bad if any is bad, good if all are stable or pass."""
    low = [w.lower() for w in words]
    if any(w in BAD_WORDS for w in low):
        return "bad"
    return "good" if all(w in ("stable", "pass", "healthy") for w in low) else "warn"


def legend_right(ax: Any, **options: Any) -> Any:
    """The axes' legend to its right, outside the data; None when nothing is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    return ax.legend(handles, labels, **{**LEGEND_RIGHT, **options})


def verdict_box(ax: Any, lines: Sequence[str], kind: str) -> Any:
    """The verdict, one line per item, as the axes' left title in a box edged in its tone
    (above the data, and laid out with it)."""
    colour = TONES.get(kind, TONES["warn"])
    return ax.set_title("\n".join(lines), loc="left", fontsize="small", color="black", pad=8,
                        linespacing=1.5,
                        bbox={"boxstyle": "round,pad=0.4", "facecolor": colour + "1f",
                              "edgecolor": colour, "linewidth": 1.5})


def banner(plt: Any, layout: list[list[str]], size: tuple[float, float]) -> tuple[Any, Any]:
    """A constrained figure of the mosaic ``layout`` under a row ``verdict`` as wide as the
    figure: an axes without axis whose title holds the verdict box (see verdict_box)."""
    width = len(layout[0])
    fig, axes = plt.subplot_mosaic([["verdict"] * width, *layout], figsize=size,
                                   layout="constrained",
                                   height_ratios=[0.001] + [1.0] * len(layout))
    axes["verdict"].axis("off")
    return fig, axes


def title(fig: Any, text: str) -> Any:
    """The figure's title: which command drew it, on what."""
    return fig.suptitle(text, x=0.01, ha="left", fontsize="medium")
