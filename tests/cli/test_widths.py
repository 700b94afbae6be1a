"""Output that reads right at any width (issue 10): every command rendered through the CLI at
60, 80, 100 and 140 columns and redirected (no COLUMNS; CliRunner's stdout is not a terminal).

* no line is wider than the width, counted in terminal cells as Rich counts them (a combining
  mark such as the macron of χ̄ takes no column; len() would count it);
* no number is cut: no number immediately followed by '…' or '...', and no cell ending in '…'.
  Legitimate ellipses are told apart: a matrix's elided middle column is a cell of its own
  ('…' between spaces), a range is '1…10' or 'a … b', a vector elides with '…,', and '⋮'
  elides rows;
* at 80 columns every gradient of the JSON appears whole, formatted as the tables format it;
* --save renders at the natural width whatever the terminal, and says what it wrote.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from percgrad.cli.app import app
from percgrad.reports.numbers import num
from percgrad.views.format import matrix_format

pytestmark = pytest.mark.cli


WIDTHS = [60, 80, 100, 140]
REDIRECTED = 0
"""No COLUMNS: the output's natural width (a file or a pipe)."""
CEILING = 240
"""render_fit.widest's cap on the natural width."""

COMMANDS: dict[str, tuple[str, ...]] = {
    "single": ("single",),
    "multi": ("multi", "--hidden", "8,8"),
    "vanish-w1": ("vanish", "--depth", "10"),
    "vanish-w8": ("vanish", "--depth", "10", "--width", "8"),
    "compare": ("vanish", "--compare", "sigmoid,tanh", "--depth", "10", "--width", "8"),
    "steps": ("vanish", "--steps", "5", "--depth", "10", "--width", "8"),
    "residual": ("vanish", "--residual", "--depth", "10", "--width", "8"),
    "norm": ("vanish", "--norm", "layer", "--depth", "10", "--width", "8"),
}

_CUT_NUMBER = re.compile(r"[-+]?\d[\d.]*(?:e[-+]?\d*)?(?:…|\.\.\.)(?!\d)")
"""A number, possibly with an unfinished exponent, that runs into an ellipsis: '-6.11…',
'2.8e-…'; not the range '1…10'."""
_CUT_CELL = re.compile(r"[^\s…](?:…|\.\.\.)(?=\s|[│┃|]|$)")
"""A cell that ends in an ellipsis: 'rel.e…', '‖∂E/…'; not a lone '…' between spaces."""


def invoke(args: tuple[str, ...], width: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    if width == REDIRECTED:
        monkeypatch.delenv("COLUMNS", raising=False)
        env = None
    else:
        env = {"COLUMNS": str(width)}
    result = CliRunner().invoke(app, [*args, "--device", "cpu"], env=env)
    assert result.exit_code == 0, (result.exit_code, result.stdout[-1500:], result.stderr)
    return result


def problems(text: str, width: int) -> list[str]:
    """Lines wider than ``width`` and cut numbers or cells, as messages."""
    found = []
    for n, line in enumerate(text.splitlines(), start=1):
        cells = cell_len(line)
        if cells > width:
            found.append(f"line {n} has {cells} > {width} columns: {line!r}")
        for pattern, what in ((_CUT_NUMBER, "cut number"), (_CUT_CELL, "cut cell")):
            for m in pattern.finditer(line):
                found.append(f"line {n}: {what} {m.group(0)!r} in {line!r}")
    return found


def test_the_detectors_tell_cut_numbers_from_legitimate_ellipses() -> None:
    cut = [
        "0   1.541  0.5684  -0.02…  0.013…   1.541  -6.11…  -6.11…  -6.1…  2.8e-…  4.6e-…",
        "W1   32…  2…  0.08326  0.083…",
        " -1.101e…  -3.372e…  -1.697e…",
        "la…  ‖∂E/…  ÷ la…",
        "j     x_j     w_j   ∂E/∂o   ∂o/∂a  ∂a/∂w…  analy…  autog…  nume…  max|Δ|  rel.e…",
        "value 1.5...",
    ]
    for line in cut:
        assert problems(line, 200), line
    fine = [
        "│ model  h_k = σ(W_k h_k−1), k = 1…10, W_k: 1×1; o = h₁₀ │",
        " 0.460   1.117   0.369  …  -0.114   1.696  -0.665",
        "bars: log scale 1e-09 … 0.13",
        "[0.54, -1.2, 0.3, 1.1, …, 2, 3, 4, 5]",
        "∂E/∂w₀ = Σ_b ∂E/∂w₀(sample b) = 0 + 0.568 + 0 + … = 0.165",
        "   ⋮        ⋮",
        "per layer χ̄ = 0.0528" + " " * 59,  # 80 cells, 81 code points
    ]
    for line in fine:
        assert not problems(line, 80), line


@pytest.mark.parametrize("width", [*WIDTHS, REDIRECTED], ids=[*map(str, WIDTHS), "redirected"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_fits_the_width_without_cutting_a_number(
        command: str, width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    out = invoke(COMMANDS[command], width, monkeypatch).stdout
    assert out.strip()
    found = problems(out, width or CEILING)
    assert not found, "\n".join(found[:12])
    if width == REDIRECTED:
        # a file gets the natural width: every column of every table, no dropped-column note
        assert "not shown at this width" not in out


def tokens(text: str) -> set[str]:
    return set(re.split(r"[\s│┃|]+", text))


def gradient_strings(doc: dict[str, Any]) -> dict[str, str]:
    """What the tables print for the JSON's gradients: {where: text}."""
    shown: dict[str, str] = {}
    if doc["command"] == "single":
        layer = doc["layers"][0]
        for j, v in enumerate(layer["grad"]["analytic"][0]):
            shown[f"∂E/∂w{j}"] = num(v, 5)
        if layer["bias_grad"] is not None:
            shown["∂E/∂b"] = num(layer["bias_grad"]["analytic"][0], 5)
        return shown
    runs = doc.get("runs") or [doc]
    for r in runs:
        label = f"{r.get('label')}: " if r.get("label") else ""
        for layer in r["layers"]:
            name = layer["name"]
            if doc["command"] == "multi":
                shown[f"‖∂E/∂{name}‖"] = num(layer["grad_norm_analytic"])
                g = np.array(layer["grad"]["analytic"])
                fmt = matrix_format(g)
                for i, j in {(0, 0), (0, -1), (-1, 0), (-1, -1)}:
                    shown[f"∂E/∂{name}[{i},{j}]"] = fmt(float(g[i, j]))
            elif doc.get("runs"):
                shown[f"{label}‖∂E/∂{name}‖"] = num(layer["grad_norm"])
            else:
                shown[f"‖∂E/∂{name}‖"] = num(layer["grad_norm"], 3)
    return shown


@pytest.mark.parametrize("command", ["single", "multi", "vanish-w8", "compare"])
def test_every_gradient_of_the_json_appears_whole_at_80_columns(
        command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = invoke(COMMANDS[command], 80, monkeypatch).stdout
    doc = json.loads(invoke((*COMMANDS[command], "--json"), 80, monkeypatch).stdout)
    shown = tokens(text)
    expected = gradient_strings(doc)
    assert expected
    missing = {where: v for where, v in expected.items() if v not in shown}
    assert not missing, missing


@pytest.mark.parametrize("columns", ["80", None], ids=["COLUMNS=80", "no-COLUMNS"])
@pytest.mark.parametrize("suffix", [".txt", ".html"])
def test_save_renders_at_the_natural_width_and_says_what_it_wrote(
        suffix: str, columns: str | None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"out{suffix}"
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    env = None if columns is None else {"COLUMNS": columns}
    result = CliRunner().invoke(app, ["single", "--inputs", "3", "--device", "cpu", "--save",
                                      str(path)], env=env)
    assert result.exit_code == 0, result.stderr
    assert f"wrote {path}" in " ".join(result.stderr.split())
    saved = path.read_text(encoding="utf-8")
    assert "not shown at this width" not in saved
    for header in ("∂E/∂o", "∂o/∂a", "∂a/∂w_j", "max|Δ|", "rel.err"):
        assert header in saved, header
    if suffix == ".txt":
        widest = max(cell_len(line) for line in saved.splitlines())
        assert widest > 80  # the gradient table needs about 100 columns
        assert not problems(saved, widest)
    if columns == "80":
        # the terminal itself still gets 80 columns
        assert max(cell_len(line) for line in result.stdout.splitlines()) <= 80
