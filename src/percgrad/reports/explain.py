"""One ``explain`` topic's worked example, as plain data: named numbers, and the command lines
that print them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    """One topic's worked example: named numbers."""

    topic: str
    values: dict[str, float]
    commands: tuple[str, ...] = field(default_factory=tuple)
    """percgrad command lines built from the very options the numbers were computed with."""


def command_line(command: str, options: Mapping[str, object]) -> str:
    """``percgrad COMMAND --option value …`` for keyword options as the spec builders take them
    (lists joined by commas, True as a bare flag, False and None left out)."""
    words = ["percgrad", command]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
            continue
        text = (",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
                if isinstance(value, Sequence) and not isinstance(value, str)
                else f"{value:g}" if isinstance(value, float) else str(value))
        words += [flag, f'"{text}"' if ";" in text or " " in text else text]
    return " ".join(words)
