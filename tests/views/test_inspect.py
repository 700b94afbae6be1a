"""What ``inspect`` shows (views/inspect.py): output that fits 60 and 80 columns and keeps every
number."""

from __future__ import annotations

import re

import pytest

from console_util import render
from percgrad.reports.numbers import num
from percgrad.views.inspect import inspect_renderables

# ---------------------------------------------------------------- output


@pytest.mark.parametrize("width", [60, 80])
def test_output_fits_the_width_and_keeps_every_number(broken, deep, nan_report, width):
    for report in (broken, deep, nan_report):
        text = render(report, width)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= width
        for m in report.modules:
            for value in (m.grad_norm, m.output_grad_norm):
                if value is not None:
                    assert num(value, 3) in text, (m.name, num(value, 3))
        for g in report.check.groups:
            if g.rel_error is not None and g in report.check.groups[:10] and g.passed is False:
                assert num(g.rel_error, 2) in text
        # Rich's ellipsis never cuts a cell: every "…" is one of ours ("a … b", ", …,")
        assert all(re.search(r"(^|\s|,)…(\s|,|$)", line) for line in lines if "…" in line)


def test_rich_print_of_a_report(deep):
    assert "Modules in forward order" in render(inspect_renderables(deep), 120)
