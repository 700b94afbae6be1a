"""The options of a command function (or the keywords of an API function) with their defaults,
Enum choices by their value, for comparing what the CLI and the API take."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import Enum
from typing import Any

OUTPUT_ONLY = {"json", "timing", "save", "plot", "debug", "no_color"}
"""CLI options that choose how a report is shown, not what is computed."""


def defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """Every keyword of ``fn`` with its default (``inspect.Parameter.empty`` when required)."""
    return {name: p.default.value if isinstance(p.default, Enum) else p.default
            for name, p in inspect.signature(fn).parameters.items()
            if p.kind is not inspect.Parameter.VAR_KEYWORD}
