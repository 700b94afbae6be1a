"""Spectra as shown (views/spectrum.py): one or two side by side, within the width."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from percgrad.engines.spectrum import spectrum_of
from percgrad.spec.build import chain_spec
from percgrad.views.spectrum import spectrum_section


@pytest.mark.parametrize("width", [60, 80])
def test_spectra_render_within_the_width(width: int) -> None:
    a = spectrum_of(chain_spec(depth=6, width=32, activation="identity", sigma_w2=1.0))
    b = spectrum_of(chain_spec(depth=6, width=32, activation="identity", init="orthogonal"))
    a.label, b.label = "meanfield", "orthogonal"
    for parts in (spectrum_section(a), spectrum_section([a, b])):
        console = Console(width=width, file=io.StringIO(), record=True)
        for part in parts:
            console.print(part)
        text = console.export_text()
        assert max(len(line) for line in text.splitlines()) <= width
        assert "variance" in text and "jacrev" in text
