"""The worked lines as records (views/worked.py): under --mistake a line shows the formula the
hand-derived pass really used, marked with the mistake, so its digits multiply out (issue 17,
item 3); without one, the right formula."""

from __future__ import annotations

import pytest

import percgrad
from golden_util import render
from percgrad.views.worked import Worked, multi_lines, single_lines
from worked_util import arithmetic_error, logical_lines

CPU = {"device": "cpu"}
ISSUE_NET = {"inputs": 4, "hidden": "4", "outputs": 4, **CPU}
"""multi --inputs 4 --hidden 4 --outputs 4, the issue's network."""


def _by_lhs(lines: list[Worked] | None) -> dict[str, Worked]:
    assert lines is not None
    return {line.lhs: line for line in lines}


def _multiplies_out(lines: list[Worked]) -> None:
    for line in lines:
        if line.expression:
            assert arithmetic_error(line.expression, line.result) is None, line.text


def test_forget_dphi_shows_delta_without_the_dphi_it_left_out() -> None:
    """Issue 17 quoted `δ₁[0,1] = (δ₂W₂)[0,1]·σ′(a₁[0,1]) = (-0.9927)·0.2367 = -0.993` and
    `δ₂[0,2] = (2/4)·(-0.7273)·0.1983 = -0.364`: neither multiplies out."""
    report = percgrad.multi(mistake="forget-dphi", **ISSUE_NET)
    lines = _by_lhs(multi_lines(report))
    out, hidden = lines["δ₂[0,2]"], lines["δ₁[0,1]"]
    assert (out.symbolic, out.expression, out.result) == ("(2/4)·(o−t)[0,2]", "(2/4)·(-0.7273)", "-0.364")
    assert out.mistake == "✗ forget-dphi: σ′ left out"
    assert (hidden.symbolic, hidden.expression, hidden.result) == ("(δ₂W₂)[0,1]", "", "-0.9927")
    assert hidden.mistake == "✗ forget-dphi: the factor σ′(a₁[0,1]) = 0.2367 left out"
    _multiplies_out(list(lines.values()))
    text = render(report, 80)
    assert "(✗ forget-dphi: σ′ left out)" in text
    printed = logical_lines(text)
    for line in lines.values():
        assert line.text.strip() in printed, line.text


@pytest.mark.parametrize(("mistake", "lhs", "symbolic", "mark"), [
    ("drop-2", "δ₂[0,0]", "(1/4)·(o−t)[0,0]·σ′(a₂[0,0])", "✗ drop-2: the 2 of ∂E/∂o left out"),
    ("wrong-sign", "δ₂[0,0]", "(2/4)·(t−o)[0,0]·σ′(a₂[0,0])", "✗ wrong-sign: t−o in place of o−t"),
    ("sum-not-mean", "δ₂[0,0]", "2·(o−t)[0,0]·σ′(a₂[0,0])", "✗ sum-not-mean: the 1/4 of the mean left out"),
    ("no-transpose", "δ₁[0,1]", "(δ₂W₂ᵀ)[0,1]·σ′(a₁[0,1])", "✗ no-transpose: W₂ᵀ in place of W₂"),
    ("stale-delta", "δ₁[0,0]", "δ₂[0,0]", "✗ stale-delta: δ₂ reused in place of (δ₂W₂)⊙σ′(a₁)"),
])
def test_every_mistake_shows_the_formula_it_used(mistake: str, lhs: str, symbolic: str,
                                                 mark: str) -> None:
    lines = multi_lines(percgrad.multi(mistake=mistake, **ISSUE_NET))
    line = _by_lhs(lines)[lhs]
    assert (line.symbolic, line.mistake) == (symbolic, mark)
    assert lines is not None
    _multiplies_out(lines)
    assert sum(bool(w.mistake) for w in lines) == 1  # the other lines use the right formula


def test_no_transpose_multiplies_the_row_of_w_not_its_column() -> None:
    report = percgrad.multi(mistake="no-transpose", **ISSUE_NET)
    line = _by_lhs(multi_lines(report))["δ₁[0,1]"]
    above, layer = report.layers[1], report.layers[0]
    assert above.delta is not None and above.weight is not None and layer.dphi is not None
    g = float(above.delta[0] @ above.weight[1, :])  # (δ₂W₂ᵀ)[0,1]
    assert line.expression.split("·")[0].strip("()") == f"{g:.4g}"
    assert line.value == pytest.approx(g * float(layer.dphi[0, 1]), rel=1e-5)


@pytest.mark.parametrize(("options", "symbolic", "expression"), [
    ({"mistake": "forget-dphi"}, "2·(o−t)·x₀", "2·(-0.01418)·1.541"),
    ({"mistake": "drop-2"}, "(o−t)·o(1−o)·x₀", "(-0.01418)·0.01398·1.541"),
    ({"mistake": "wrong-sign"}, "2·(t−o)·o(1−o)·x₀", "2·0.01418·0.01398·1.541"),
    ({"mistake": "forget-dphi", "loss": "bce"}, "(o−t)/(o(1−o))·x₀", "(-0.01418)/(0.01398)·1.541"),
    ({"mistake": "sum-not-mean", "batch": 2}, "2·(o−t)·o(1−o)·x_00", None),
])
def test_single_shows_the_mistaken_formula(options: dict[str, object], symbolic: str,
                                           expression: str | None) -> None:
    lines = single_lines(percgrad.single(inputs=3, **options, **CPU))  # type: ignore[arg-type]
    marked = [line for line in lines if line.mistake]
    assert marked and marked[0].symbolic == symbolic
    assert marked[0].mistake.startswith(f"✗ {options['mistake']}:")
    if expression is not None:
        assert marked[0].expression == expression
    _multiplies_out(lines)


def test_without_a_mistake_nothing_is_marked() -> None:
    assert not any(w.mistake for w in multi_lines(percgrad.multi(**ISSUE_NET)) or [])
    assert not any(w.mistake for w in single_lines(percgrad.single(inputs=3, **CPU)))
    # with n = 1 the mean is the sum: sum-not-mean changes nothing, and says nothing
    assert not any(w.mistake for w in single_lines(
        percgrad.single(inputs=3, mistake="sum-not-mean", **CPU)))
