"""The closing lines of a run's view (views/verdict.py)."""

from __future__ import annotations

import re

import percgrad
from golden_util import render

CPU = {"device": "cpu"}


def test_closing_max_relative_error_is_the_largest_relative_error_shown() -> None:
    """The closing line's "max relative error" is max|Δ| over the layer's largest gradient,
    the table's rel.err is per entry: `single --inputs 3` shows 4.6e-06 in the table and
    "max relative error 4.5e-06" below it."""
    report = percgrad.single(inputs=3, **CPU)
    text = render(report, 200)
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["j", "x_j"])
    shown = []
    for line in lines[head + 2:]:
        tokens = line.split()
        if not tokens or not re.fullmatch(r"\d+|b", tokens[0]):
            break
        shown.append(float(tokens[-1]))
    closing = re.search(r"max relative error (\S+) ≤", text)
    assert shown and closing
    assert float(closing.group(1)) >= max(shown), (closing.group(0), shown)


def test_verdict_closes_with_pass_and_the_warnings_above() -> None:
    from rich.text import Text

    from percgrad.views.verdict import verdict

    report = percgrad.single(inputs=3, **CPU)
    lines = [part.plain for part in verdict(report) if isinstance(part, Text)]
    assert any(line.startswith("⚠ the neuron is saturated") for line in lines)
    assert any(line.startswith("✔ PASS") for line in lines)
