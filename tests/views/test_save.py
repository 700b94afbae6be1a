"""``--save`` (views/save.py): what was shown, written as text, SVG or HTML by the suffix."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from percgrad.errors import PercgradError
from percgrad.views.save import SAVE_FORMATS, save_console


def _console() -> Console:
    console = Console(record=True, width=60, file=io.StringIO())
    console.print("‖∂E/∂W‖ = 0.25")
    return console


@pytest.mark.parametrize(("suffix", "start"), [(".txt", "‖∂E/∂W‖ = 0.25"), (".svg", "<svg"),
                                               (".html", "<!DOCTYPE html>")])
def test_the_suffix_chooses_the_format(tmp_path: Path, suffix: str, start: str) -> None:
    assert suffix in SAVE_FORMATS
    path = tmp_path / f"shown{suffix}"
    save_console(_console(), path)
    assert path.read_text(encoding="utf-8").lstrip().startswith(start)


def test_other_suffixes_and_missing_folders_are_refused(tmp_path: Path) -> None:
    for path in (tmp_path / "shown.png", tmp_path / "no" / "such" / "shown.txt"):
        with pytest.raises(PercgradError) as err:
            save_console(_console(), path)
        assert err.value.option == "--save"
