"""percgrad explain: a short page on one idea, with a worked example."""

from __future__ import annotations

from typing import Annotated

import typer

from percgrad.cli import interrupt
from percgrad.cli.options import DebugOpt
from percgrad.cli.output import Output, exit_codes

TOPICS = ("delta", "chain-rule", "chi", "saturation", "dead-units", "init", "residual", "check")

HELP = (
    "A short page on one idea, with a worked example computed on the spot. Topics: "
    + ", ".join(TOPICS) + ".\n\ne.g. percgrad explain delta"
)


def explain(
    topic: Annotated[str, typer.Argument(metavar="TOPIC", help=f"{', '.join(TOPICS[:-1])} or "
                                         f"{TOPICS[-1]}.", show_default=False)],
    debug: DebugOpt = False,
) -> None:
    """A page on one topic."""
    with exit_codes(Output(debug=debug)):
        from percgrad.catalog import resolve

        name = resolve(topic, {t: () for t in TOPICS}, "TOPIC")
        interrupt.import_quietly("numpy", "torch")  # a Ctrl-C in there would be swallowed
        from percgrad.engines.explain import EXAMPLES
        from percgrad.views.explain import page
        from percgrad.views.format import make_console

        make_console().print(page(EXAMPLES[name]()))
