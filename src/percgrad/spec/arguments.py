"""The Python API's arguments checked as the CLI checks its options: every value of the kind
its option takes (a whole number, a number, True or False, a name), every failure a
PercgradError naming the option — never a raw TypeError, never a value silently truncated
(``2.5`` taken as 2) or a truthy string taken as True (``bias='false'``). The CLI's own values
pass unchanged. No torch."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from percgrad.errors import PercgradError

MAX_STEPS = 1_000_000
"""Training steps (--steps) at most: more would run for days."""


class UnknownArgument(PercgradError, TypeError):
    """A keyword argument the function does not take: a PercgradError naming it, and a
    TypeError, as Python raises for a function's unknown keyword."""


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")


def whole(value: Any, option: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int: a Python int, never a bool, a float or a string (nor a NumPy
    integer, which the report could not write as JSON); from ``low`` to ``high`` where given."""
    if _is_bool(value) or not isinstance(value, int):
        raise PercgradError(f"must be a whole number, got {value!r} ({type(value).__name__})",
                            option)
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        span = (f"from {low:,} to {high:,}" if low is not None and high is not None else
                f"of at least {low:,}" if low is not None else f"of at most {high:,}")
        raise PercgradError(f"must be a whole number {span}, got {number:,}", option)
    return number


def optional_whole(value: Any, option: str, low: int | None = None,
                   high: int | None = None) -> int | None:
    """``whole``, or None."""
    return None if value is None else whole(value, option, low, high)


def number(value: Any, option: str) -> float:
    """``value`` as a float: a Python int or float (NumPy's float64 is one), never a bool or
    a string."""
    if _is_bool(value) or not isinstance(value, int | float):
        raise PercgradError(f"must be a number, got {value!r} ({type(value).__name__})", option)
    return float(value)


def optional_number(value: Any, option: str) -> float | None:
    """``number``, or None."""
    return None if value is None else number(value, option)


def positive_number(value: Any, option: str) -> float:
    """A finite number above 0."""
    got = number(value, option)
    if not (math.isfinite(got) and got > 0):
        raise PercgradError(f"must be a positive finite number, got {value!r}", option)
    return got


def flag(value: Any, option: str) -> bool:
    """True or False, never a truthy string such as ``'false'`` or a 1."""
    if not isinstance(value, bool):
        raise PercgradError(f"must be True or False, got {value!r} ({type(value).__name__})",
                            option)
    return bool(value)


def optional_flag(value: Any, option: str) -> bool | None:
    """``flag``, or None (the default chosen for you)."""
    return None if value is None else flag(value, option)


def text(value: Any, option: str) -> str:
    """A str (a name, a list in words), never a number or bytes."""
    if not isinstance(value, str):
        raise PercgradError(f"must be a string, got {value!r} ({type(value).__name__})", option)
    return value


def optional_text(value: Any, option: str) -> str | None:
    """``text``, or None."""
    return None if value is None else text(value, option)


def path(value: Any, option: str) -> str | None:
    """A file name: a str or an os.PathLike (None: not given)."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    return text(value, option)


def size(value: Any, option: str = "--max-memory") -> int | str | None:
    """--max-memory: a size in words (``'2G'``, checked where it is parsed) or a whole number
    of bytes of at least 1; None: what the device has free."""
    if value is None or isinstance(value, str):
        return value
    if _is_bool(value) or not isinstance(value, int) or value < 1:
        raise PercgradError(f"must be a size like '2G' or a whole number of bytes of at least "
                            f"1, got {value!r}", option)
    return int(value)


def names(value: Any, option: str) -> str | list[str]:
    """A comma-separated str, or a list or tuple of str."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PercgradError(f"must be a comma-separated string or a list of names, got "
                            f"{value!r}", option)
    return list(value)


def shape(value: Any, option: str) -> str | tuple[int, ...]:
    """A shape: a str (``'32,784'``, parsed where it is used) or a sequence of whole numbers
    of at least 1 (never 2.5, True or '4')."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Sequence) or isinstance(value, bytes | bytearray):
        raise PercgradError(f"must be a shape such as '32,784' or (32, 784), got {value!r}",
                            option)
    return tuple(whole(v, option, 1) for v in value)


def shapes(value: Any, option: str) -> str | list[tuple[int, ...]] | None:
    """Several shapes: a str (``'3x4,4'``) or a sequence of shapes."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Sequence) or isinstance(value, bytes | bytearray) or not value:
        raise PercgradError(f"must be shapes such as '3x4,4' or [(3, 4), (4,)], got {value!r}",
                            option)
    return [shape(s, option) for s in value]  # type: ignore[misc]


def progress(value: Any, option: str = "progress") -> Any:
    """A progress callback (called with done and total), or None."""
    if value is not None and not callable(value):
        raise PercgradError(f"must be a callable taking (done, total), or None, got {value!r}",
                            option)
    return value


def scalar(item: Any) -> bool:
    """A number: Python's, NumPy's, or a tensor's single entry (not a bool)."""
    if _is_bool(item):
        return False
    return isinstance(item, numbers.Real) or (hasattr(item, "__float__")
                                              and getattr(item, "ndim", 0) == 0)


def values(value: Any, option: str) -> Any:
    """Numbers in words (``'0.5,-1'``), one number, or a sequence of numbers (or of rows of
    numbers): never a bool, a dict or a string among them."""
    if isinstance(value, str):
        return value

    def check(item: Any, depth: int) -> None:
        if isinstance(item, str | bytes) or _is_bool(item) or isinstance(item, Mapping):
            raise PercgradError(f"must hold numbers, got {item!r} in {value!r}", option)
        if scalar(item):
            return
        if depth < 2 and isinstance(item, Iterable):
            for inner in item:
                check(inner, depth + 1)
            return
        raise PercgradError(f"must hold numbers, got {item!r} in {value!r}", option)

    check(value, 0)
    return value


def known(given: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    """Refuse keyword arguments ``what`` does not take, naming them (and the closest it does)."""
    import difflib

    accepted = set(allowed)
    unknown = [k for k in given if k not in accepted]
    if not unknown:
        return
    first = unknown[0]
    close = difflib.get_close_matches(first, sorted(accepted), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    listed = ", ".join(unknown)
    raise UnknownArgument(f"{what} takes no keyword argument(s) {listed}{hint}", first)


def keywords(fn: Callable[..., Any]) -> set[str]:
    """The keyword arguments ``fn`` names (not its ``**rest``)."""
    import inspect

    return {name for name, p in inspect.signature(fn).parameters.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
