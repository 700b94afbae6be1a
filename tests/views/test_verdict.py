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
    from percgrad.views.verdict import verdict

    report = percgrad.single(inputs=3, **CPU)
    lines = [render(part, 200).strip() for part in verdict(report)]
    assert any(line.startswith("⚠ the neuron is saturated") for line in lines)
    assert any(line.startswith("✔ PASS") for line in lines)


def test_failure_bullets_and_the_mistake_wrap_under_their_own_text_at_80_columns() -> None:
    """Before: `  • W1: analytic and autograd disagree most …` went on at column 0
    ("autograd 0.160207 (relative error …"), and the mistake's formula was cut at `δ_k =`."""
    from percgrad.views.verdict import verdict

    report = percgrad.multi(inputs=3, outputs=4, mistake="forget-dphi", **CPU)
    lines = [line.rstrip() for part in verdict(report) for line in render(part, 80).splitlines()]
    bullets = [i for i, line in enumerate(lines) if line.startswith("  • ")]
    assert bullets and lines[0].startswith("✘ FAIL")
    for i in bullets:
        assert lines[i + 1].startswith("    ") and lines[i + 1][4] != " ", lines[i:i + 2]
    mistake = next(i for i, line in enumerate(lines) if "That is the mistake planted" in line)
    assert lines[mistake].startswith("  That")
    assert lines[mistake + 1].startswith("  ") and lines[mistake + 1][2] != " "
    assert any("δ_k = ∂E/∂h_k ⊙ φ′(a_k)" in line for line in lines)  # the formula kept whole
    timing = [i for i, line in enumerate(lines) if line.startswith("time: ")]
    assert not timing or all(line.startswith("      ") for line in lines[timing[0] + 1:])


def test_a_warning_wraps_under_its_text_and_keeps_its_formula_whole() -> None:
    from percgrad.views.verdict import verdict

    report = percgrad.single(inputs=3, **CPU)
    lines = [line.rstrip() for part in verdict(report) for line in render(part, 60).splitlines()]
    warn = next(i for i, line in enumerate(lines) if line.startswith("⚠ "))
    assert lines[warn + 1].startswith("  ") and lines[warn + 1][2] != " "
    assert any(re.search(r"σ′\(a\) = \S+", line) for line in lines)


def test_whole_marks_short_relations_and_named_formulas() -> None:
    from percgrad.views.verdict import whole

    assert whole("so σ′(a) = 0.014, below") == "so `σ′(a) = 0.014,` below"
    assert whole("error 0.5 > 0.001 (float32)") == "error `0.5 > 0.001` (float32)"
    assert whole("(a = b instead of c = d ⊙ e)", ("c = d ⊙ e",)) == "`(a = b` instead of `c = d ⊙ e`)"
    assert whole("no relation here, only words") == "no relation here, only words"
