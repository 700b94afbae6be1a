"""Renderables that fit their width without cutting a number (views/fit.py): tables drop their
least useful columns first and say so; prose wraps between words, never inside a formula."""

from __future__ import annotations

import io

from rich.console import Console

from percgrad.views.fit import Column, FitTable, Prose, widest


def _text(renderable: object, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _table() -> FitTable:
    return FitTable("Gradients", [
        Column("layer", ["1", "2"], justify="left"),
        Column("analytic", ["0.123456", "-1.5e-07"]),
        Column("autograd", ["0.123456", "-1.5e-07"], drop=1),
        Column("numeric (float64 central difference)", ["0.1234559", "-1.5e-07"], drop=2,
               what="numeric"),
    ])


def test_a_narrow_table_drops_the_highest_drop_first_and_says_so() -> None:
    wide = _text(_table(), 120)
    assert "numeric" in wide and "not shown" not in wide
    narrow = _text(_table(), 40)
    assert max(len(line) for line in narrow.splitlines()) <= 40
    assert "0.1234559" not in narrow and "autograd" in narrow
    assert "not shown at this width: numeric" in " ".join(narrow.split())
    assert "-1.5e-07" in narrow  # the numbers kept are whole


def test_prose_keeps_a_formula_whole() -> None:
    prose = Prose("the factor `χ = σ_w² E[φ′²]` per layer decides it", indent="  ")
    lines = prose.lines(20)
    assert lines[0] == "  the factor"
    assert any("χ = σ_w² E[φ′²]" in line for line in lines)
    assert all("`" not in line for line in lines)
    assert widest([_table()], floor=10) > 40
