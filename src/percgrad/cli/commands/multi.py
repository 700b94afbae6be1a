"""percgrad multi: a layer, or a multi-layer perceptron."""

from __future__ import annotations

from typing import Annotated

import typer

from percgrad.cli.commands import compute_one
from percgrad.cli.options import MODEL, Common, XOpt, inputs_option, shares_common_options
from percgrad.cli.output import execute

HELP = (
    "A layer of outputs, o = φ(W x), or a multi-layer perceptron with --hidden: every layer's "
    "gradient matrix three ways, side by side, and the backward pass in matrix form.\n\n"
    "The tutorial's second listing: percgrad multi --inputs 3 --outputs 4"
)


@shares_common_options
def multi(
    common: Common,
    inputs: Annotated[int | None, inputs_option(
        "Inputs of the network \\[default: 3, or the length of --x].")] = None,
    outputs: Annotated[int, typer.Option("--outputs", "-m", help="Outputs of the network.",
                                         rich_help_panel=MODEL)] = 4,
    hidden: Annotated[str, typer.Option("--hidden", metavar="WIDTHS", help="Hidden layer widths, e.g. 8,8 "
                                        "(none by default: one layer).", rich_help_panel=MODEL)] = "",
    x: XOpt = None,
) -> None:
    """A layer, or a multi-layer perceptron."""
    from percgrad.spec.build import multi_spec

    execute(common.output(), lambda: multi_spec(inputs=inputs, outputs=outputs, hidden=hidden, x=x,
                                                **common.options()),
            compute_one)
