"""percgrad single: one neuron."""

from __future__ import annotations

from typing import Annotated

import typer

from percgrad.cli.commands import compute_one
from percgrad.cli.options import DATA, Common, XOpt, inputs_option, shares_common_options
from percgrad.cli.output import execute

HELP = (
    "One neuron, o = φ(x·wᵀ): the gradient of every weight by the chain rule, by autograd and by "
    "finite differences, with the derivation.\n\nThe tutorial's first listing: "
    "percgrad single --inputs 3"
)


@shares_common_options
def single(
    common: Common,
    inputs: Annotated[int | None, inputs_option(
        "Inputs N of the neuron \\[default: 3, or the length of --x/--w].")] = None,
    x: XOpt = None,
    w: Annotated[str | None, typer.Option("--w", metavar="VALUES", help="Weights by hand, e.g. 0.3,0.1,-0.4.",
                                          rich_help_panel=DATA)] = None,
    b: Annotated[str | None, typer.Option("--b", metavar="VALUE", help="The bias by hand, e.g. 0.5 (turns "
                                          "--bias on).", rich_help_panel=DATA)] = None,
) -> None:
    """One neuron."""
    from percgrad.spec.build import single_spec

    execute(common.output(), lambda: single_spec(inputs=inputs, x=x, w=w, b=b, **common.options()),
            compute_one)

