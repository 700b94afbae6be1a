"""Choice enums shared by the CLI's options (no torch, no Rich)."""

from __future__ import annotations

from enum import Enum


class CheckName(str, Enum):
    """--check choices."""

    auto = "auto"
    full = "full"
    fast = "fast"
    off = "off"


class DtypeName(str, Enum):
    """--dtype choices."""

    float32 = "float32"
    float64 = "float64"
