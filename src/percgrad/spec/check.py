"""The rules every gradient check shares, stated once and torch-free (the CLI's help quotes them): the
default tolerance of each dtype and what ``--check auto`` means."""

from __future__ import annotations

import math

from percgrad.errors import PercgradError

TOLERANCES = {"float32": 1e-3, "float64": 1e-6}
"""Largest relative error that passes, by the dtype the gradient under test was computed in."""
FULL_CHECK_MAX_ENTRIES = 5000
"""``--check auto`` runs the full check (every entry) up to this many entries, fast beyond."""
METHODS = ("auto", "full", "fast", "off")


def tolerance(dtype: str, given: float | None = None) -> float:
    """The user's tolerance (positive and finite), or the dtype's default."""
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int | float) or not (
                math.isfinite(given) and given > 0):
            raise PercgradError(f"must be a positive finite number, got {given!r}", "--tolerance")
        return float(given)
    return TOLERANCES[dtype]


def method(name: str, entries: int) -> str:
    """``auto`` made concrete: full up to FULL_CHECK_MAX_ENTRIES entries, fast beyond."""
    chosen = str(name).strip().lower()
    if chosen not in METHODS:
        raise PercgradError(f"{name!r} is not one of: {', '.join(METHODS)}", "--check")
    if chosen == "auto":
        return "full" if entries <= FULL_CHECK_MAX_ENTRIES else "fast"
    return chosen
