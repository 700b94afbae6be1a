"""The toolkit every view draws with (views/format.py): symbols, log bars, vectors and matrices
as NumPy prints them."""

from __future__ import annotations

import math

import numpy as np

from percgrad.views.format import bar_range, bars_caption, log_bar, matrix_format, symbol, vector


def test_log_bars_are_log_proportional() -> None:
    assert log_bar(1e-2, 1e-4, 1.0, width=8).plain == "████····"
    assert log_bar(1.0, 1e-4, 1.0, width=8).plain == "█" * 8
    assert log_bar(0.0, 1e-4, 1.0).plain == "0"
    assert log_bar(math.inf, 1e-4, 1.0).plain == "non-finite"
    assert bar_range([0.5, 2.0, math.nan, -1.0]) == (0.02, 2.0)  # at least two decades
    assert bar_range([]) == (1.0, 1.0)


def test_vectors_and_matrices_as_numpy_prints_them() -> None:
    assert vector(np.array([0.5, -1.25, 2.0])) == "[0.5, -1.25, 2]"
    assert vector(np.arange(12.0), edge=2) == "[0, 1, …, 10, 11]"
    fixed = matrix_format(np.array([[0.5, -12.25], [3.0, 0.0]]))
    assert fixed(0.5) == "0.50" and fixed(-12.25) == "-12.25"
    scientific = matrix_format(np.array([1e-7, 2.0]))
    assert scientific(1e-7) == "1.000e-07"
    assert symbol("sigmoid") == "σ"


def test_the_bars_caption_says_why_every_bar_is_empty() -> None:
    """Before: "bars: log scale 1 … 1" when every gradient was 0 (relu, every unit inactive)."""
    assert bars_caption([0.5, 2.0]) == "bars: log scale 0.02 … 2"
    assert bars_caption([0.0, 2.0], "bars share one log scale") == "bars share one log scale 0.02 … 2"
    assert bars_caption([0.0, 0.0]) == "bars: empty, as every ‖∂E/∂W‖ is exactly 0"
    assert bars_caption([0.0, math.nan]) == "bars: empty, as every ‖∂E/∂W‖ is 0 or not finite"
    assert bars_caption([math.inf]) == "bars: empty, as no ‖∂E/∂W‖ is finite"
    assert "1 … 1" not in bars_caption([0.0] * 10)
