"""One ``explain`` topic's worked example, as plain data: named numbers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    """One topic's worked example: named numbers."""

    topic: str
    values: dict[str, float]
