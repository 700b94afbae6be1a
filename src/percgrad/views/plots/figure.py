"""What every plot shares: matplotlib on the Agg backend, writing a figure, and the values a log
axis can show."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from percgrad.errors import PercgradError
from percgrad.views.atomic import replacing

PLOT_FORMATS = (".png", ".svg", ".pdf")


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
