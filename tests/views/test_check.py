"""What ``check`` shows (views/check.py): output that fits 60 columns."""

from __future__ import annotations

from pathlib import Path

import percgrad
from console_util import render
from percgrad.reports.numbers import num
from percgrad.views.check import check_renderables

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"


def test_check_output_fits_60_columns():
    report = percgrad.check(f"{EX / 'bad_function.py'}:ScaledSoftplus", shapes="3x4,4")
    text = render(check_renderables(report), 60)
    assert max(len(line) for line in text.splitlines()) <= 60
    assert num(report.check.max_rel_error, 2) in text


def test_verdicts_notes_and_header_values_wrap_under_themselves():
    from percgrad.reports.user import GradCheck
    from percgrad.views.check import hanging, labelled, status_line

    failed = GradCheck("full", 1e-6, False, 0.4)
    lines = render(status_line(failed, "w disagrees with the finite differences " * 3), 40)
    lines = [ln for ln in lines.splitlines() if ln.strip()]
    assert lines[0].startswith("✘ FAIL ") and len(lines) > 1
    assert all(ln.startswith(" " * len("✘ FAIL ")) for ln in lines[1:])
    note = [ln for ln in render(hanging("⚠", "word " * 30), 30).splitlines() if ln.strip()]
    assert note[0].startswith("⚠ ") and all(ln.startswith("  ") for ln in note[1:])
    header = [ln for ln in render(labelled([("compares", "a b c " * 12)]), 30).splitlines()
              if ln.strip()]
    assert header[0].startswith("compares ")
    assert all(ln.startswith(" " * len("compares ")) for ln in header[1:])


def test_tensors_that_test_nothing_are_marked_so_not_passed():
    import torch
    from torch import nn

    from percgrad.views.check import group_split

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with torch.no_grad():
        model[2].weight.zero_()
    report = percgrad.inspect(model, torch.randn(8, 4), check="full")
    text = render(group_split(report.check, "check", "parameter", "E"), 100)
    rows = {line.split()[0]: line for line in text.splitlines() if line[:1] in "02"}
    assert "○" in rows["0.weight"] and "✔" not in rows["0.weight"]
    assert "✔" in rows["2.weight"]
    assert "○: agrees, but tests nothing" in " ".join(text.split())
