"""Text the user typed → numbers, rows, sizes and byte counts: parsed, never evaluated, every
failure a PercgradError naming the option."""

from __future__ import annotations

import math
import re

from percgrad.errors import PercgradError

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_numbers(text: str, option: str) -> tuple[float, ...]:
    """Parse '0.5,-1.2,2' into floats: numbers only, never evaluated, all finite."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip():
        raise PercgradError("expected comma-separated numbers, got nothing", option)
    values = []
    for i, item in enumerate(items):
        if not item:
            raise PercgradError(f"value {i + 1} of {text!r} is empty", option)
        try:
            value = float(item)
        except ValueError:
            raise PercgradError(f"{item!r} is not a number (in {text!r})", option) from None
        if not math.isfinite(value):
            raise PercgradError(f"{item!r} is not a finite number", option)
        values.append(value)
    return tuple(values)


def parse_rows(text: str, option: str) -> tuple[tuple[float, ...], ...]:
    """Parse '1,2;3,4' into rows of numbers: ';' separates samples of a batch."""
    rows = tuple(parse_numbers(row, option) for row in text.split(";"))
    if len({len(r) for r in rows}) > 1:
        raise PercgradError(f"rows of {text!r} have different lengths", option)
    return rows


def parse_sizes(text: str, option: str) -> tuple[int, ...]:
    """Parse '8,8' into positive layer widths; '' means none."""
    if not text.strip():
        return ()
    sizes = []
    for item in (i.strip() for i in text.split(",")):
        if not item.isdigit() or int(item) < 1:
            raise PercgradError(f"expected positive integers like 8,8, got {text!r}", option)
        sizes.append(int(item))
    return tuple(sizes)


def parse_size(text: str, option: str = "--max-memory") -> int:
    """'2G', '512M', '1.5GB', '1000000' → bytes."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?B)?\s*", text.upper())
    if not m or float(m.group(1)) <= 0:
        raise PercgradError(f"expected a size like 2G, 512M or 1.5GB, got {text!r}", option)
    return int(float(m.group(1)) * _UNITS[m.group(2)])
