"""The pages of ``percgrad explain`` (views/explain.py): words and the worked example's numbers."""

from __future__ import annotations

import io

from rich.console import Console

from percgrad.engines.explain import EXAMPLES
from percgrad.reports.numbers import sig
from percgrad.views.explain import page


def test_every_topic_has_a_page_with_its_numbers() -> None:
    for topic, make in EXAMPLES.items():
        example = make()
        console = Console(width=100, file=io.StringIO(), record=True)
        console.print(page(example))
        text = console.export_text()
        assert f"percgrad explain {topic}" in text
        assert "Worked example, computed now:" in text
        if topic == "delta":
            assert sig(example.values["delta"], 4).lstrip("-") in text
