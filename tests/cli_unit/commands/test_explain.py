"""``percgrad explain`` declared (cli/commands/explain.py): its topics are the worked examples'."""

from __future__ import annotations

from percgrad.cli.commands import explain
from percgrad.engines.explain import EXAMPLES


def test_every_topic_has_a_worked_example_and_the_help_names_it() -> None:
    assert set(explain.TOPICS) == set(EXAMPLES)
    assert all(topic in explain.HELP for topic in explain.TOPICS)
