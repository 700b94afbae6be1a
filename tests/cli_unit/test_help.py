"""Every command's --help as Rich wraps it (cli/options.py, cli/commands/): no formula cut
across lines or elided at 80, 100 and 140 columns, and each command's help says only what that
command does."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from percgrad.cli.app import app
from percgrad.cli.options import unbroken

COMMANDS = ("single", "multi", "vanish", "phase", "inspect", "check", "watch", "explain", "play")
OPERATORS = tuple("=+−~≤≥≲×")
"""A help line that ends in one of these has cut a formula after its operator."""


def help_text(command: str, columns: int) -> str:
    result = CliRunner().invoke(app, [command, "--help"],
                                env={"COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.output


def help_cells(text: str) -> list[str]:
    """The help column of every line: the text after the last run of 2+ spaces, unboxed."""
    cells = []
    for line in text.splitlines():
        body = line.strip().strip("│╭╰─╮╯").strip()
        if body:
            cells.append(re.split(r"\s{2,}", body)[-1])
    return cells


def formula_breaks(text: str) -> list[str]:
    """Lines that end inside a formula: after an operator, inside a call's parentheses (N(0,
    …), a paren right after a letter) or cut short with an ellipsis."""
    bad = []
    for cell in help_cells(text):
        open_calls = 0
        for i, ch in enumerate(cell):
            if ch == "(" and i and not cell[i - 1].isspace():
                open_calls += 1
            elif ch == ")" and open_calls:
                open_calls -= 1
        if cell.endswith(OPERATORS) or cell.endswith("…") or open_calls:
            bad.append(cell)
    return bad


@pytest.mark.parametrize("columns", [80, 100, 140])
@pytest.mark.parametrize("command", COMMANDS)
def test_no_formula_is_cut_across_lines_of_the_help(command: str, columns: int) -> None:
    assert formula_breaks(help_text(command, columns)) == []


def test_the_check_recognises_a_cut_formula() -> None:
    # what `COLUMNS=80 percgrad vanish --help` printed before
    old = ("│ --residual        Skip connections: h_k = h_k−1 +      │\n"
           "│                   φ(a_k).                              │\n"
           "│ --init    NAME    kaiming: He normal: N(0,             │\n"
           "│                   sup|φ′|·‖W_k+1‖₂·‖δ_k+… │\n")
    assert len(formula_breaks(old)) == 3


def test_vanish_help_keeps_each_formula_on_one_line_at_80_columns() -> None:
    cells = help_cells(help_text("vanish", 80))
    for formula in ("h_k = h_k−1 + φ(a_k)", "‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖",
                    "N(0,(gain·calculate_gain(φ))²/fan_in)", "W~N(0,σ_w²/fan_in)",
                    "h_k = φ(LN(a_k))"):
        assert any(formula in cell for cell in cells), formula


def test_a_distribution_loses_the_spaces_rich_would_break_it_at() -> None:
    assert unbroken("He normal: N(0, (gain·calculate_gain(φ))²/fan_in)") == \
        "He normal: N(0,(gain·calculate_gain(φ))²/fan_in)"
    assert unbroken("W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²) from --sigma-w2 (or not)") == \
        "W~N(0,σ_w²/fan_in), b~N(0,σ_b²) from --sigma-w2 (or not)"


def test_phase_help_names_its_own_check_not_a_numeric_one() -> None:
    text = " ".join(help_cells(help_text("phase", 140)))
    assert "numeric check" not in text
    assert "checked against autograd's" in text and "no finite differences" in text
    assert "numeric check is always float64" in " ".join(help_cells(help_text("vanish", 140)))
