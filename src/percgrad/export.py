"""Writing what was shown (Rich's console export) and plots of per-layer magnitudes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from percgrad.errors import PercgradError
from percgrad.report import Report

SAVE_FORMATS = (".svg", ".html", ".htm", ".txt")
PLOT_FORMATS = (".png", ".svg", ".pdf")


def save_console(console: Any, path: Path) -> None:
    """Write a recording Rich console to ``path``, its format chosen by the suffix."""
    suffix = path.suffix.lower()
    if suffix not in SAVE_FORMATS:
        raise PercgradError(
            f"cannot write {str(path)!r}: the name must end in .svg, .html or .txt", "--save"
        )
    try:
        if suffix == ".svg":
            console.save_svg(str(path), title="percgrad")
        elif suffix in (".html", ".htm"):
            console.save_html(str(path))
        else:
            console.save_text(str(path))
    except OSError as exc:
        raise PercgradError(f"cannot write {str(path)!r}: {exc.strerror or exc}", "--save") from None


def _series(report: Report) -> list[tuple[str, list[float], list[float]]]:
    """(label, ‖∂E/∂W_k‖, ‖δ_k‖) per run: one, or one per compared setting."""
    if report.runs:
        reports = [(str(r.label or i + 1), r) for i, r in enumerate(report.runs)]
    else:
        reports = [(str(report.settings["activation"]), report)]
    return [
        (label, [layer.grad_norm for layer in r.layers], [layer.delta_norm for layer in r.layers])
        for label, r in reports
    ]


def save_plot(report: Report, path: Path) -> None:
    """Per-layer ‖∂E/∂W‖ and ‖δ‖ on a log axis, one curve per run, drawn with matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PercgradError(
            "needs matplotlib, which is not installed: pip install 'percgrad[plot]'", "--plot"
        ) from None
    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    for label, grad, delta in _series(report):
        layers = list(range(1, len(grad) + 1))
        line = ax.plot(layers, [g if g > 0 else float("nan") for g in grad], marker="o",
                       label=f"‖∂E/∂W‖ {label}")[0]
        ax.plot(layers, [d if d > 0 else float("nan") for d in delta], linestyle="--",
                color=line.get_color(), label=f"‖δ‖ {label}")
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = input side)")
    ax.set_ylabel("gradient magnitude")
    s = report.runs[0].settings if report.runs else report.settings
    by = report.compare.by if report.compare is not None else None
    what = f"compared by {by}" if by else f"{s['activation']}, init {s['init']}"
    ax.set_title(f"percgrad {report.command}: {what}, gain {s['gain']:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:
        raise PercgradError(f"cannot write {str(path)!r}: {exc}", "--plot") from None
    finally:
        plt.close(fig)
