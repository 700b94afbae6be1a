"""A layer's matrices side by side (views/matrices.py): the same rows and columns for W and its
three gradients, the cited entries always among them, as many columns as fit, titles whole,
each cell beside its own row (issue 17, item 6)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

import percgrad
from percgrad.cli.app import app
from percgrad.views.fit import widest
from percgrad.views.format import matrix_format
from percgrad.views.matrices import Block, layout, shown
from percgrad.views.show import parts
from percgrad.views.worked import multi_lines
from worked_util import matrices, render_parts

CPU = {"device": "cpu"}


def test_shown_keeps_the_ends_and_the_cited_indices() -> None:
    assert shown(3, 3) == [0, 1, 2]
    assert shown(8, 3) == [0, 1, 2, None, 5, 6, 7]
    assert shown(8, 1, keep=[4]) == [0, None, 4, None, 7]
    assert shown(9, 2, keep=[4]) == [0, 1, None, 4, None, 7, 8]
    assert shown(8, 2, keep=[3]) == [0, 1, 2, 3, None, 6, 7]  # a gap of one is shown, not elided
    assert shown(1, 3) == [0]


def test_layout_prefers_every_column_then_side_by_side() -> None:
    grad = np.full((4, 3), -1.234e-4)
    blocks = [Block("W1", np.full((4, 3), -0.5)), Block("∂E/∂W1 analytic", grad),
              Block("∂E/∂W1 autograd", grad), Block("∂E/∂W1 numeric", grad)]
    rows, cols, bands = layout(blocks, 80)
    assert cols == [0, 1, 2] and rows == [0, 1, 2, 3]
    assert [len(b) for b in bands] == [2, 2]
    _, _, bands = layout(blocks, 200)
    assert [len(b) for b in bands] == [4]


def _text(report: percgrad.Report, width: int | None) -> tuple[str, int]:
    shown_parts = parts(report)
    width = width or widest(shown_parts)
    return render_parts(shown_parts, width), width


def _same_entries_and_values(report: percgrad.Report, text: str) -> dict[str, set[tuple[int, int]]]:
    """Every matrix's title whole on one line, each printed cell its own matrix's value at that
    row and column (so beside its own row), and W and its gradients on the same entries."""
    found = matrices(text)
    entries = {}
    for layer in report.layers:
        g = layer.grad
        named = {layer.name: layer.weight, f"∂E/∂{layer.name} analytic": g.analytic,
                 f"∂E/∂{layer.name} autograd": g.autograd, f"∂E/∂{layer.name} numeric": g.numeric}
        for name, values in named.items():
            assert values is not None
            assert name in found, f"{name}: title not whole on one line"
            fmt = matrix_format(values)
            for (r, c), cell in found[name].cells.items():
                assert cell == fmt(float(values[r, c])), (name, r, c, cell)
        sets = {name: set(found[name].cells) for name in named}
        assert len(set(map(frozenset, sets.values()))) == 1, sets
        entries[layer.name] = sets[layer.name]
    return entries


@pytest.mark.parametrize("width", [80, 100])
def test_a_4x3_gradient_shows_all_3_columns(width: int) -> None:
    """Issue 17: `multi --inputs 3 --outputs 4` showed 2 of 3 columns at 80 and 100."""
    report = percgrad.multi(inputs=3, outputs=4, **CPU)
    text, _ = _text(report, width)
    entries = _same_entries_and_values(report, text)
    assert entries["W1"] == {(r, c) for r in range(4) for c in range(3)}


@pytest.mark.parametrize("width", [60, 80, 100, 140, None])
def test_cited_entries_are_shown_and_w_and_its_gradient_show_the_same_columns(
        width: int | None) -> None:
    """Issue 17: with --hidden 8,8, ∂E/∂W2 showed 12 of 64 entries, other columns than W2, and
    neither ∂E/∂W₂[7,5] nor ∂E/∂W₁[6,2] that the worked lines cite."""
    report = percgrad.multi(inputs=4, hidden="8,8", outputs=2, **CPU)
    text, width = _text(report, width)
    assert max(cell_len(line) for line in text.splitlines()) <= width
    entries = _same_entries_and_values(report, text)
    lines = multi_lines(report)
    assert lines is not None
    cites = [c for line in lines for c in line.cites]
    assert len(cites) == 3
    for c in cites:
        assert (c.row, c.col) in entries[f"W{c.layer + 1}"], c
    assert len(entries["W2"]) >= 24  # 6 rows × at least 4 columns, not 12 of 64


@pytest.mark.parametrize("width", [60, 80, None])
def test_titles_never_wrap_into_the_rows(width: int | None) -> None:
    """Issue 17: `multi --inputs 2 --hidden 2 --outputs 1 --seed 3` wrapped "(2×2)" of a title
    onto the first data row, so every gradient row sat beside the wrong W row."""
    report = percgrad.multi(inputs=2, hidden="2", outputs=1, seed=3, **CPU)
    text, _ = _text(report, width)
    entries = _same_entries_and_values(report, text)
    assert entries["W1"] == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert entries["W2"] == {(0, 0), (0, 1)}


def test_the_entries_a_failure_names_are_shown() -> None:
    report = percgrad.multi(inputs=4, hidden="8,8", outputs=8, mistake="no-transpose", **CPU)
    assert report.check.failures
    text, _ = _text(report, 80)
    found = matrices(text)
    for f in report.check.failures:
        assert f.entry is not None and f.layer is not None
        r, c = (int(v) for v in f.entry.split("[")[1].rstrip("]").split(","))
        assert (r, c) in found[f"∂E/∂W{f.layer} analytic"].cells, f.entry


def test_a_file_gets_at_most_100_columns_when_only_vectors_would_widen_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: redirected `multi --hidden 8,8` wrote 138-column lines; the forward pass's
    vectors now wrap at 100 columns in a file, every column still there."""
    monkeypatch.delenv("COLUMNS", raising=False)
    result = CliRunner().invoke(app, ["multi", "--inputs", "4", "--hidden", "8,8", "--outputs",
                                      "2", "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    assert "COLUMNS" not in os.environ
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= 100
    assert "not shown at this width" not in result.stdout
    assert "a_k = W_k h_k−1" in result.stdout


def test_fewer_columns_until_they_fit_the_cited_ones_always_among_them() -> None:
    assert shown(5, 1, keep=[2]) == [0, 1, 2, 3, 4]
    assert shown(5, 1, keep=[2], fill=False) == [0, None, 2, None, 4]
    assert shown(5, 0, keep=[1, 2, 3], fill=False) == [None, 1, 2, 3, None]
    assert shown(5, 0, fill=False) == [0, None]
    wide = np.full((8, 5), -1.234e-4)
    blocks = [Block("∂E/∂W1 analytic", wide)]
    assert layout(blocks, 61, keep_cols=[2])[1] == [0, 1, 2, 3, 4]  # 61 columns: it fits
    assert layout(blocks, 60, keep_cols=[2])[1] == [0, None, 2, None, 4]
    assert layout(blocks, 40, keep_cols=[1, 2, 3])[1] == [None, 1, 2, 3, None]
