"""Text the user typed → numbers, rows, sizes and byte counts: parsed, never evaluated, every
failure a PercgradError naming the option."""

from __future__ import annotations

import math
import re

from percgrad.errors import PercgradError

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
MAX_INT = 2**63 - 1
"""The largest whole number any option takes (a seed, a size); larger ones are refused."""
MAX_NUMBER_CHARS = 100
"""A size typed with more characters than this is refused before it is converted."""
MAX_SIZE = 2**60
"""The largest --max-memory (1 EiB): a larger one means no limit, and is refused as a typo."""
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)",
                    re.IGNORECASE)


def shown(text: str, limit: int = 24) -> str:
    """``text`` quoted for a message, shortened in the middle when long (a 5,000-digit number)."""
    body = text if len(text) <= limit else f"{text[:limit // 2]}…{text[-(limit // 2):]}"
    return repr(body) + (f" ({len(text):,} characters)" if len(text) > limit else "")


def strict_int(text: str, option: str, low: int = -MAX_INT, high: int = MAX_INT) -> int:
    """A whole number written with ASCII digits (an optional sign, spaces around), from ``low``
    to ``high``; anything else (``'²'``, ``'٣'``, ``'1_000'``, 5,000 digits) a PercgradError."""
    body = text.strip()
    if not _INT.fullmatch(body):
        raise PercgradError(f"{shown(text)} is not a whole number", option)
    if len(body.lstrip("+-").lstrip("0")) > len(str(MAX_INT)):  # before int(): 5,000 digits
        side = f"small; at least {low:,}" if body.startswith("-") else f"large; at most {high:,}"
        raise PercgradError(f"{shown(text)} is too {side}", option)
    value = int(body)
    if value > high:
        raise PercgradError(f"{value:,} is too large; at most {high:,}", option)
    if value < low:
        raise PercgradError(f"{value:,} is too small; at least {low:,}", option)
    return value


def strict_float(text: str, option: str) -> float:
    """A number written with ASCII digits (``1.5``, ``-2e-3``, ``inf``, ``nan``; spaces around);
    anything else (``'١.٥'``, ``'1_0'``, ``'0x10'``) a PercgradError."""
    if not is_number(text):
        raise PercgradError(f"{shown(text)} is not a number", option)
    return float(text.strip())


def is_number(text: str) -> bool:
    """Whether ``text`` is a number as ``strict_float`` reads it."""
    return _FLOAT.fullmatch(text.strip()) is not None


def parse_numbers(text: str, option: str) -> tuple[float, ...]:
    """Parse '0.5,-1.2,2' into floats: numbers only, never evaluated, all finite."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip():
        raise PercgradError("expected comma-separated numbers, got nothing", option)
    values = []
    for i, item in enumerate(items):
        if not item:
            raise PercgradError(f"value {i + 1} of {text!r} is empty", option)
        if not is_number(item):
            raise PercgradError(f"{shown(item)} is not a number (in {shown(text, 40)})", option)
        value = float(item)
        if not math.isfinite(value):
            raise PercgradError(f"{shown(item)} is not a finite number", option)
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
        if not item.isascii() or not item.isdigit():
            raise PercgradError(f"expected positive integers like 8,8, got {shown(text, 40)}", option)
        size = strict_int(item, option)
        if size < 1:
            raise PercgradError(f"expected positive integers like 8,8, got {shown(text, 40)}", option)
        sizes.append(size)
    return tuple(sizes)


def parse_size(text: str, option: str = "--max-memory") -> int:
    """'2G', '512M', '1.5GB', '1000000' → bytes."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?B)?\s*", text.upper()) \
        if len(text) <= MAX_NUMBER_CHARS else None
    if not m or float(m.group(1)) <= 0:
        raise PercgradError(f"expected a size like 2G, 512M or 1.5GB, got {shown(text)}", option)
    size = float(m.group(1)) * _UNITS[m.group(2)]
    if not size <= MAX_SIZE:  # inf too
        raise PercgradError(f"{shown(text)} is too large; at most 1048576T (1 EiB)", option)
    return int(size)
