"""The screen as files: an SVG by Textual's own screenshot, the same screen as plain text, and
the names ``s`` saves them under (never overwriting one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from percgrad.views.format import make_console

STEM = "percgrad-play"


def next_path(folder: Path, suffix: str = ".svg") -> Path:
    """``percgrad-play-N.svg`` in ``folder``, N the first number not taken."""
    n = 1
    while (folder / f"{STEM}-{n}{suffix}").exists() or (folder / f"{STEM}-{n}.txt").exists():
        n += 1
    return folder / f"{STEM}-{n}{suffix}"


def screen_text(app: Any) -> str:
    """The screen as it is drawn now, as plain text (trailing spaces cut), through the
    compositor Textual's own export_screenshot draws from."""
    width, height = app.size
    console = make_console(record=True, quiet=True, width=width)
    console.height = height
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    text = console.export_text(styles=False)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
