"""The plot of ``phase`` (views/plots/phase.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from percgrad.engines import phase as engine
from percgrad.reports.phase import PhaseReport
from percgrad.spec.phase import phase_spec


@pytest.fixture(scope="module")
def small() -> PhaseReport:
    spec = phase_spec(activation="tanh", sigma_w2="0.5:3:0.5", sigma_b2="0,0.2", depth=12,
                      width=32, batch=4, device="cpu")
    return engine.run_phase(spec)


def test_plot_is_a_png(small: PhaseReport, tmp_path: Path) -> None:
    from percgrad.views.plots.phase import save_phase_plot

    path = tmp_path / "phase.png"
    save_phase_plot(small, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
