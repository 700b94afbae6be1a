"""``--save``: what was shown, written by Rich's console export (SVG, HTML or text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from percgrad.errors import PercgradError
from percgrad.views.atomic import replacing

SAVE_FORMATS = (".svg", ".html", ".htm", ".txt")


def save_console(console: Any, path: Path) -> None:
    """Write a recording Rich console to ``path``, its format chosen by the suffix."""
    suffix = path.suffix.lower()
    if suffix not in SAVE_FORMATS:
        raise PercgradError(
            f"cannot write {str(path)!r}: the name must end in .svg, .html or .txt", "--save"
        )
    try:
        with replacing(path) as temporary:  # whole or not at all, even on Ctrl-C
            if suffix == ".svg":
                console.save_svg(temporary, title="percgrad")
            elif suffix in (".html", ".htm"):
                console.save_html(temporary)
            else:
                console.save_text(temporary)
    except OSError as exc:
        raise PercgradError(f"cannot write {str(path)!r}: {exc.strerror or exc}", "--save") from None
