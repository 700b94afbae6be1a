"""Numbers as text, the same in tables, sentences and worked arithmetic (no Rich)."""

from __future__ import annotations

import math

SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def sub(n: int | str) -> str:
    """n as subscript digits."""
    return str(n).translate(SUBSCRIPTS)


def num(v: float | None, digits: int = 4) -> str:
    """A number for a table: 4 significant digits, e-notation when tiny or huge."""
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if v == 0:
        return "0"
    a = abs(v)
    text = f"{v:.{digits}g}" if 0.001 <= a < 100000.0 else f"{v:.{max(digits - 2, 1)}e}"
    return text


def short(v: float) -> str:
    """A number inside a formula: 3 significant digits."""
    return num(v, 3)


def sig(v: float, digits: int) -> str:
    """``v`` to ``digits`` significant digits (e-notation when tiny or huge)."""
    if v == 0 or not math.isfinite(v):
        return num(v)
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:.{digits}g}"
    return f"{v:.{digits - 1}e}"


def figure(v: float, digits: int = 4) -> str:
    """A factor inside worked arithmetic: ``digits`` significant digits, negatives in brackets."""
    text = sig(v, digits)
    return f"({text})" if v < 0 else text
