"""Golden files of rendered text (tests/golden/<name>.txt).

A report is rendered at a fixed width with what depends on the machine replaced before rendering
(the processor's name, the timings), then normalised (trailing spaces stripped, the ``time:``
line replaced by a placeholder). ``PERCGRAD_UPDATE_GOLDEN=1`` rewrites the files instead of
comparing with them.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import os
import re
from pathlib import Path
from typing import Any

from rich.console import Console

GOLDEN = Path(__file__).parent / "golden"
UPDATE_ENV = "PERCGRAD_UPDATE_GOLDEN"
CPU_PLACEHOLDER = "<cpu>"
TIME_PLACEHOLDER = "time: <timings vary from run to run>"
_TIME_LINE = re.compile(r"^time: .*$", re.MULTILINE)


def render(report: Any, width: int) -> str:
    """``report`` as the CLI prints it at ``width`` columns, without colour."""
    console = Console(width=width, file=io.StringIO(), highlight=False, color_system=None,
                      force_terminal=False, legacy_windows=False)
    console.print(report)
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def machine_free(report: Any) -> Any:
    """A copy of ``report`` whose processor name is a placeholder and whose timings are 0 (the
    ``time:`` line then fits one line, which ``normalise`` replaces)."""
    device = {**report.device, "name": CPU_PLACEHOLDER}
    timing = {key: 0.0 for key in report.timing}
    return dataclasses.replace(report, device=device, timing=timing)


def normalise(text: str) -> str:
    """Trailing spaces stripped, the ``time:`` line replaced, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    return _TIME_LINE.sub(TIME_PLACEHOLDER, "\n".join(lines)).rstrip("\n") + "\n"


def golden_text(report: Any, width: int = 80) -> str:
    """What a golden file holds for ``report``."""
    return normalise(render(machine_free(report), width))


def check_text(path: Path, text: str) -> None:
    """Compare ``text`` with the file at ``path`` (or rewrite it, PERCGRAD_UPDATE_GOLDEN=1)."""
    if os.environ.get(UPDATE_ENV, "") not in ("", "0"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run the tests once with {UPDATE_ENV}=1"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        shown = f"{path.parent.name}/{path.name}"
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=shown, tofile="rendered now", n=1))
        raise AssertionError(
            f"the rendered text differs from {shown} (if the change is intended, "
            f"rerun with {UPDATE_ENV}=1 and read the new file):\n{diff[:6000]}")


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/golden/<name>.txt (or rewrite it, PERCGRAD_UPDATE_GOLDEN=1)."""
    check_text(GOLDEN / f"{name}.txt", text)
