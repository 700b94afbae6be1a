"""What ``vanish`` shows (views/vanish.py): the chain's formula, sparklines, the flow table."""

from __future__ import annotations

import io

from rich.console import Console

import percgrad
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
