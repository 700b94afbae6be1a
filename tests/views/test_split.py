"""Tables that fit by splitting (views/split.py): columns that do not fit move to a further table
keyed by the same first column, so that no cell is cut."""

from __future__ import annotations

import io

from rich.console import Console

from percgrad.views.split import Col, Split


def _text(renderable: object, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_columns_that_do_not_fit_continue_in_a_second_table() -> None:
    names = ["encoder.weight", "head.bias"]
    columns = [Col(f"column {k}", [f"{k}.{r}23456" for r in range(2)]) for k in range(6)]
    split = Split("Modules", Col("module", names, justify="left"), columns, caption="every number",
                  rows=2)
    wide = _text(split, 200)
    assert "(continued)" not in wide
    narrow = _text(split, 50)
    assert "(continued)" in narrow
    assert max(len(line) for line in narrow.splitlines()) <= 50
    for col in columns:
        for cell in col.cells:
            assert cell in narrow
    assert narrow.count("encoder.weight") >= 2  # the key repeated in each table
    assert narrow.rstrip().endswith("every number")
