"""What ``vanish`` shows (views/vanish.py): the chain's formula, sparklines, the flow table."""

from __future__ import annotations

import io

from rich.console import Console

import percgrad
from percgrad.reports.run import Report
from percgrad.views.vanish import chain_formula, sparkline, vanish


def test_the_chain_formula_follows_the_architecture() -> None:
    plain = {"activation": "tanh", "bias": False, "norm": "none", "residual": False}
    assert chain_formula(plain) == "h_k = tanh(W_k h_k−1)"
    assert chain_formula({**plain, "bias": True, "residual": True}) == "h_k = h_k−1 + tanh(W_k h_k−1 + b_k)"
    assert "LN(" in chain_formula({**plain, "norm": "layer"})


def test_sparklines_and_the_flow_table() -> None:
    assert sparkline([1e-3, 1e-2, 1e-1, 1.0]).plain == "▁▃▆█"
    assert sparkline([1.0, 0.0, float("nan")]).plain == "▁××"  # one value: the bottom
    assert sparkline([]).plain == "—"
    report = percgrad.vanish(depth=4, width=4, device="cpu")
    console = Console(width=120, file=io.StringIO(), record=True)
    for part in vanish(report):
        console.print(part)
    text = console.export_text()
    assert "Per-layer gradient flow" in text
    assert report.summary is not None and report.summary.diagnosis.upper() in text


def _text(report: Report, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True)
    for part in vanish(report):
        console.print(part)
    return console.export_text()


def _header(text: str) -> list[str]:
    """The header panel's lines, unboxed."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("╰"))
    return [line.strip("│ ").rstrip() for line in lines[1:end]]


def test_a_comparison_by_activation_shows_every_runs_phi() -> None:
    """Before: `φ      tanh(a)` only, for --compare tanh,relu."""
    from percgrad.views.vanish import compare_rows

    report = percgrad.vanish(compare="tanh,relu", device="cpu")
    rows = dict(compare_rows(report))
    assert rows["φ"] == ["`tanh(a)`", "`relu(a) = max(0, a)`"]
    assert rows["init"] == ["normal (gain 1) · bias off · batch 1"]
    head = _header(_text(report, 80))
    assert "φ      tanh(a)" in head and "relu(a) = max(0, a)" in head


def test_a_comparison_by_init_shows_every_init() -> None:
    """Before: `init   normal (gain 1) …` only, for --compare-init normal,xavier."""
    from percgrad.views.vanish import compare_rows

    report = percgrad.vanish(compare_init="normal,xavier", device="cpu")
    assert dict(compare_rows(report))["init"] == ["{normal, xavier} (gain 1) · bias off · batch 1"]
    assert "init   {normal, xavier} (gain 1) · bias off · batch 1" in _header(_text(report, 80))


def test_a_comparison_by_arch_gives_each_formula_its_own_whole_line_at_80_columns() -> None:
    """Before: the four formulas on one line joined by |, cut at `σ(LN(W_k` at 80 columns."""
    from percgrad.views.vanish import chain_formula

    report = percgrad.vanish(compare_arch="plain,residual,layernorm,residual-layernorm", width=4,
                             bias=True, device="cpu")
    head = _header(_text(report, 80))
    for run in report.runs:
        formula = chain_formula(run.settings)
        line = next(line for line in head if formula in line)
        assert line.split()[0] in (run.label, "model") and str(run.label) in line


def test_relu_units_on_the_flat_side_are_inactive_not_saturated() -> None:
    from percgrad.views.vanish import flat_units

    header, legend = flat_units("relu")
    assert header == "a≤0" and legend.startswith("a≤0: share of inactive units")
    assert "relu′(a) = 1 if a>0 else 0" in legend
    assert flat_units("tanh")[0] == "sat."
    text = _text(percgrad.vanish(activation="relu", width=8, depth=3, device="cpu"), 200)
    assert "inactive units" in text and "sat." not in text and "saturat" not in text


def test_the_bars_of_a_chain_whose_gradients_are_all_0_say_they_are_empty() -> None:
    report = percgrad.vanish(activation="relu", device="cpu")  # width 1: the one unit is off
    assert all(layer.grad_norm == 0 for layer in report.layers)
    text = " ".join(_text(report, 200).split())
    assert "bars: empty, as every ‖∂E/∂W‖ is exactly 0" in text and "1 … 1" not in text
