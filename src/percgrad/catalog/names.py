"""Resolving what the user typed to a catalog name: case-insensitive, aliases, a close match."""

from __future__ import annotations

import difflib

from percgrad.errors import PercgradError


def normal(text: str) -> str:
    return text.strip().lower().replace("_", "-").replace(" ", "-")


def resolve(text: str, names: dict[str, tuple[str, ...]], option: str) -> str:
    """The canonical name that ``text`` means (case-insensitive, aliases allowed); a
    PercgradError naming ``option``, echoing ``text`` and suggesting the closest name if none."""
    key = normal(text)
    for name, aliases in names.items():
        if key == name or key in aliases:
            return name
    allowed = ", ".join(names)
    every = {alias: name for name, aliases in names.items() for alias in (name, *aliases)}
    close = difflib.get_close_matches(key, list(every), n=1, cutoff=0.6)
    hint = f"; did you mean {every[close[0]]}?" if close else ""
    raise PercgradError(f"{text!r} is not one of: {allowed}{hint}", option)
