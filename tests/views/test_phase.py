"""The phase diagram as a heatmap (views/phase.py): it fits 60, 80 and 120 columns, cuts no
number, and its cells show the measured change."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from percgrad.engines import phase as engine
from percgrad.reports.phase import PhaseReport
from percgrad.spec.phase import phase_spec
from percgrad.views.phase import phase as render


@pytest.fixture(scope="module")
def tanh_wide() -> PhaseReport:
    """A tanh sweep at width 256 (the ±15% claim)."""
    spec = phase_spec(activation="tanh", sigma_w2="0.5:4:0.5", sigma_b2="0,0.1,0.3", depth=30,
                      width=256, batch=8, device="cpu")
    return engine.run_phase(spec)


def _text(report: PhaseReport, width: int, color: bool = False) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, highlight=False,
                      force_terminal=color, color_system="truecolor" if color else None)
    for part in render(report):
        console.print(part)
    return console.export_text()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_heatmap_fits_and_cuts_no_number(tanh_wide: PhaseReport, width: int) -> None:
    text = _text(tanh_wide, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert not any(re.search(r"…\s*[│╮╯]?\s*$", line) for line in lines)  # Rich's ellipsis
    rows = [line for line in lines if re.match(r"^\s*[\d.]+ │", line)]
    assert len(rows) == 3  # one per σ_b²
    for label in ("0.5", "1.5", "2.5", "3.5", "σ_w²", "σ_b²"):
        assert label in text
    assert any(mark in text for mark in ("║", "┆"))


def test_heatmap_cells_show_the_measured_change(tanh_wide: PhaseReport) -> None:
    text = _text(tanh_wide, 80)
    p = tanh_wide.point(0, 0)  # σ_b² = 0, σ_w² = 0.5: ordered, ‖δ‖² shrinks
    assert p.measured_factor is not None
    assert str(round(100 * (p.measured_factor - 1))) in text
    assert "change of ‖δ‖² per layer in %" in text
