"""percgrad vanish: a deep chain, layer by layer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from percgrad.cli.options import (
    CHECK,
    COMPARE,
    RUN,
    Common,
    LrOpt,
    NormOpt,
    ResidualOpt,
    depth_option,
    inputs_option,
    shares_common_options,
    steps_option,
    width_option,
)
from percgrad.cli.output import execute

if TYPE_CHECKING:
    from percgrad.reports.run import Report
    from percgrad.spec.run import Spec

HELP = (
    "A deep chain of layers: how the gradient shrinks (or grows) layer by layer, beside what "
    "mean-field theory predicts, with a log-scale chart and a diagnosis; compare activations, "
    "inits or architectures (residual, layer norm), or watch it over training.\n\n"
    "The tutorial's closing remark, measured: percgrad vanish --depth 10"
)


@shares_common_options
def vanish(
    common: Common,
    depth: Annotated[int, depth_option("Layers in the chain.")] = 10,
    width: Annotated[int, width_option("Units per layer (1: the tutorial's chain of single "
                                       "neurons).")] = 1,
    inputs: Annotated[int | None, inputs_option(
        "Inputs of the chain \\[default: --width]; with --residual the first layer stays plain "
        "when they differ.")] = None,
    residual: ResidualOpt = False,
    norm: NormOpt = "none",
    compare_acts: Annotated[str | None, typer.Option(
        "--compare", metavar="LIST", help="Run once per activation, e.g. sigmoid,tanh,relu, side by side.",
        rich_help_panel=COMPARE)] = None,
    compare_inits: Annotated[str | None, typer.Option(
        "--compare-init", metavar="LIST", help="Run once per init, e.g. normal,xavier,kaiming, side by side.",
        rich_help_panel=COMPARE)] = None,
    compare_archs: Annotated[str | None, typer.Option(
        "--compare-arch", metavar="LIST", help="Run once per architecture: plain, residual, layernorm, "
        "residual-layernorm (e.g. plain,residual,layernorm).", rich_help_panel=COMPARE)] = None,
    steps: Annotated[int, steps_option("Train with plain SGD for N steps and track every layer's "
                                       "‖δ‖.")] = 0,
    lr: LrOpt = 0.1,
    bound: Annotated[bool | None, typer.Option(
        "--bound/--no-bound", help="‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖, checked on every layer of "
        "a plain chain (one SVD per layer) \\[default: when the SVDs take under ~1.5 s].",
        rich_help_panel=CHECK, show_default=False)] = None,
    tensors: Annotated[bool, typer.Option("--tensors", help="Put weight and gradient matrices "
                                          "in the JSON (they can be huge).",
                                          rich_help_panel=RUN)] = False,
    spectrum: Annotated[bool, typer.Option(
        "--spectrum", help="The singular values of the input-output Jacobian ∂h_L/∂x of sample 0 "
        "(hand-derived, checked against torch.func.jacrev): a histogram, the mean and variance of "
        "σ², and their closed forms where known.", rich_help_panel=COMPARE)] = False,
) -> None:
    """A deep chain."""

    def request() -> tuple[Spec, tuple[str, list[str]] | None]:
        from percgrad.spec.build import chain_spec, check_variants, comparison

        spec = chain_spec(
            depth=depth, width=width, inputs=inputs, residual=residual, norm=norm, steps=steps,
            lr=lr, bound=bound, tensors=tensors, spectrum=spectrum, **common.options(),
        )
        compared = comparison(compare_acts, compare_inits, compare_archs, steps)
        check_variants(spec, compared)  # before anything runs, named by --compare…
        return spec, compared

    def compute(req: tuple[Spec, tuple[str, list[str]] | None], interactive: bool) -> Report:
        from percgrad.api import run_chain
        from percgrad.views.progress import phases

        spec, compared = req
        with phases(interactive) as track:
            return run_chain(spec, compared, track, spectrum=spectrum)

    execute(common.output(), request, compute, plot)


def plot(report: Report, path: Path) -> None:
    """Draw the chain's per-layer gradient magnitudes to ``path``."""
    from percgrad.views.plots.perceptron import save_vanish_plot

    save_vanish_plot(report, path)
