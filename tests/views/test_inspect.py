"""What ``inspect`` shows (views/inspect.py): output that fits 60 and 80 columns and keeps every
number."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch
from rich.console import Console

import percgrad
from percgrad.reports.numbers import num
from percgrad.views.inspect import inspect_renderables

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"


def render(report: object, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, highlight=False)
    console.print(report)
    return console.export_text()


@pytest.fixture(scope="module")
def broken() -> percgrad.reports.user.InspectReport:  # type: ignore[name-defined]
    torch.set_num_threads(1)
    return percgrad.inspect(f"{EX / 'broken_backward.py'}:build", input_shape="8,16")


@pytest.fixture(scope="module")
def deep() -> object:
    torch.set_num_threads(1)
    return percgrad.inspect(f"{EX / 'deep_sigmoid.py'}:build", input_shape="32,64")


@pytest.fixture(scope="module")
def nan_report() -> object:
    return percgrad.inspect(f"{EX / 'nan_layer.py'}:build", input_shape="8,16")


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
