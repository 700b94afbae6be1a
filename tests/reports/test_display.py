"""The lazy hook from reports to views (reports/display.py): a report shows itself in Rich and in
a Jupyter cell with the CLI's text."""

from __future__ import annotations

import io

from rich.console import Console, Group

import percgrad
from percgrad.reports.display import Displayable


def test_a_report_shows_itself_in_rich_and_as_html() -> None:
    report = percgrad.single(device="cpu")
    assert isinstance(report, Displayable)
    shown = report.__rich__()
    assert isinstance(shown, Group)
    console = Console(width=100, file=io.StringIO(), record=True)
    console.print(shown)
    assert "PASS" in console.export_text()
    html = report._repr_html_()
    assert html.lstrip().lower().startswith("<!doctype html") and "PASS" in html
