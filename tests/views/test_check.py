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
