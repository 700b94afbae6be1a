"""percgrad play: the playground in the terminal (Textual, imported only when it runs)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from percgrad.cli import interrupt
from percgrad.cli.options import (
    ActivationOpt,
    BatchOpt,
    DebugOpt,
    GainOpt,
    InitOpt,
    LossOpt,
    NoColorOpt,
    NormOpt,
    ResidualOpt,
    SeedOpt,
    SigmaB2Opt,
    SigmaW2Opt,
    depth_option,
    lr_option,
    width_option,
)
from percgrad.cli.output import Output, exit_codes

HELP = (
    "A live playground in the terminal: change depth, width, σ_w², σ_b², gain, activation, init "
    "and architecture with a key and watch the gradient flow, mean-field theory and the phase "
    "plane move; every screen is one vanish run, whose command line s prints. Starts from "
    "vanish's options; ? lists the keys.\n\ne.g. percgrad play --depth 30 --activation tanh"
)


def play(
    depth: Annotated[int, depth_option("Layers in the chain (d, D).")] = 10,
    width: Annotated[int, width_option(
        "Units per layer (w, W); the mean-field theory holds for wide layers.")] = 64,
    activation: ActivationOpt = "sigmoid",
    init: InitOpt = None,
    sigma_w2: SigmaW2Opt = None,
    sigma_b2: SigmaB2Opt = None,
    gain: GainOpt = 1.0,
    residual: ResidualOpt = False,
    norm: NormOpt = "none",
    batch: BatchOpt = None,
    seed: SeedOpt = 0,
    loss: LossOpt = "mse",
    lr: Annotated[float, lr_option("SGD learning rate of the steps t takes.")] = 0.1,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The playground."""
    with exit_codes(Output(debug=debug, no_color=no_color)):
        from percgrad.errors import PercgradError
        from percgrad.play.state import command_line, from_options

        settings = from_options(depth=depth, width=width, activation=activation, init=init,
                                sigma_w2=sigma_w2, sigma_b2=sigma_b2, gain=gain, residual=residual,
                                norm=norm, batch=batch, seed=seed, loss=loss, lr=lr)
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise PercgradError("needs a terminal (stdin and stdout); for the same numbers "
                                f"as text: {command_line(settings)}", "play")
        if no_color:
            os.environ["NO_COLOR"] = "1"
        interrupt.import_quietly("numpy", "torch")  # a Ctrl-C in there would be swallowed
        from percgrad.play.app import PlayApp

        app = PlayApp(settings)
        app.run()
        code = app.return_code  # 0 from q; 1 when the app failed (Textual printed why)
        for path, line in app.saved:
            typer.echo(f"saved {path}: {line}")
        last = app.frame.settings if app.frame is not None else settings
        typer.echo(f"the last screen as tables: {command_line(last)}")
    raise typer.Exit(code or 0)
