"""Reading back what ``single`` and ``multi`` print: worked lines (joined across the lines they
wrap onto) checked by interval arithmetic within their printed precision, and the matrices
shown, parsed into {(row, column): printed cell} per matrix."""

from __future__ import annotations

import ast
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.console import Console

from percgrad.views.worked import HANG

NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_ARITHMETIC = re.compile(r"[-+\d.e()/·\s]+")
_TITLE = re.compile(r"(W\d+|∂E/∂W\d+ (?:analytic|autograd|numeric)) \((\d+)×(\d+)\)")
_ROW = re.compile(r"^\s*(\d+|⋮)  ")


def render_parts(parts: list[Any], width: int) -> str:
    """``parts`` printed at ``width`` columns, without colour, as the CLI prints them."""
    console = Console(width=width, file=io.StringIO(), highlight=False, color_system=None,
                      force_terminal=False, legacy_windows=False)
    for part in parts:
        console.print(part)
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def logical_lines(text: str) -> list[str]:
    """The printed lines (stripped), a wrapped worked line joined back: inside a panel, a line
    indented by 4 or more spaces (views.worked.HANG) goes on with the line before."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        inside = line.startswith("│") and line.endswith("│")
        if inside:
            line = line[1:-1]
            line = (line[1:] if line.startswith(" ") else line).rstrip()
        if inside and out and line.startswith(HANG):
            out[-1] = f"{out[-1]} {line.strip()}"
        else:
            out.append(line.strip())
    return out


def strip_marks(line: str) -> str:
    """The line without its ``(✗ …)`` mistake marks (balanced brackets)."""
    while (start := line.find("(✗")) >= 0:
        depth, end = 0, start
        for end in range(start, len(line)):
            depth += {"(": 1, ")": -1}.get(line[end], 0)
            if depth == 0:
                break
        line = (line[:start].rstrip() + " " + line[end + 1:].lstrip()).strip()
    return line


def arithmetic_lines(text: str) -> Iterator[tuple[str, str, str]]:
    """(line, expression, result) for every ``… = expression = result`` whose expression is
    plain arithmetic of printed numbers with an operator."""
    for line in logical_lines(text):
        parts = strip_marks(line).split(" = ")
        if len(parts) < 3:
            continue
        expression, result = parts[-2].strip(), parts[-1].strip()
        if re.fullmatch(NUMBER, result) and _ARITHMETIC.fullmatch(expression) and \
                re.search(r"[·/+]", expression):
            yield line, expression, result


def _unit(text: str, digits: int) -> float:
    """Half of the printed number's precision is where its true value may lie: one unit in its
    last digit, and no more than ``digits`` significant digits' worth (``:g`` drops trailing
    zeros: 0.2 printed to 4 digits is 0.2000). An exact 0 has none."""
    value = float(text)
    if value == 0:
        return 0.0
    written = float(Decimal(1).scaleb(Decimal(text).as_tuple().exponent))  # type: ignore[arg-type]
    return min(written, 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1))


Interval = tuple[float, float]


def _interval(node: ast.AST) -> Interval:
    """The range of +, −, ·, / over number literals, each within half a unit of its print."""
    if isinstance(node, ast.Expression):
        return _interval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        raise AssertionError("numbers are read from the text")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        lo, hi = _interval(node.operand)
        return -hi, -lo
    if isinstance(node, ast.BinOp):
        (a, b), (c, d) = _interval(node.left), _interval(node.right)
        if isinstance(node.op, ast.Add):
            return a + c, b + d
        if isinstance(node.op, ast.Sub):
            return a - d, b - c
        if isinstance(node.op, ast.Div):
            assert c > 0 or d < 0, "a divisor that may be 0"
            c, d = 1.0 / d, 1.0 / c
        if isinstance(node.op, ast.Mult | ast.Div):
            products = [a * c, a * d, b * c, b * d]
            return min(products), max(products)
    if isinstance(node, ast.Name) and node.id.startswith("n"):
        return _NUMBERS[int(node.id[1:])]
    raise ValueError(f"not plain arithmetic: {ast.dump(node)}")


_NUMBERS: list[Interval] = []


def expression_range(expression: str) -> Interval:
    """Where the exact value of ``expression`` lies, given its printed (4-digit) numbers."""
    _NUMBERS.clear()

    def name(m: re.Match[str]) -> str:
        value, half = float(m.group(0)), _unit(m.group(0), 4) / 2
        _NUMBERS.append((value - half, value + half))
        return f"n{len(_NUMBERS) - 1}"

    python = re.sub(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", name, expression.replace("·", "*"))
    return _interval(ast.parse(python, mode="eval"))


def arithmetic_error(expression: str, result: str) -> str | None:
    """Why ``expression = result`` cannot hold with every number within its printed precision
    (factors 4 significant digits, the result 3); None when it can."""
    lo, hi = expression_range(expression)
    value, half = float(result), _unit(result, 3) / 2
    slack = 1e-6 * max(abs(lo), abs(hi), abs(value))  # float32 rounding of the result itself
    if lo - slack <= value + half and value - half <= hi + slack:
        return None
    return f"{expression} lies in [{lo:.6g}, {hi:.6g}], printed {result} (±{half:.1g})"


@dataclass
class Shown:
    """One matrix as printed: its shape and the cells shown, by (row, column)."""

    name: str
    shape: tuple[int, int]
    cells: dict[tuple[int, int], str]


def matrices(text: str) -> dict[str, Shown]:
    """Every titled matrix of ``text``, by name (W2, ∂E/∂W2 analytic …)."""
    lines = text.splitlines()
    found: dict[str, Shown] = {}
    for at, line in enumerate(lines):
        titles = list(_TITLE.finditer(line))
        if not titles:
            continue
        starts = [m.start() for m in titles] + [10**6]
        header = lines[at + 1]
        rows = []
        for row_line in lines[at + 2:]:
            label = _ROW.match(row_line)
            if not label:
                break
            rows.append((label.group(1), row_line))
        for k, m in enumerate(titles):
            lo, hi = starts[k], starts[k + 1]
            columns = {t.end() + lo: int(t.group(0))
                       for t in re.finditer(r"\d+", header[lo:hi])}
            cells: dict[tuple[int, int], str] = {}
            for label_text, row_line in rows:
                if label_text == "⋮":
                    continue
                for t in re.finditer(r"\S+", row_line[lo:hi]):
                    end = t.end() + lo
                    if end in columns:
                        cells[(int(label_text), columns[end])] = t.group(0)
            assert m.group(1) not in found, f"{m.group(1)} shown twice"
            found[m.group(1)] = Shown(m.group(1), (int(m.group(2)), int(m.group(3))), cells)
    return found
