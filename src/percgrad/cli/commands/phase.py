"""percgrad phase: the order-to-chaos phase diagram."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from percgrad.cli.choices import DtypeName
from percgrad.cli.options import (
    COMPARE,
    GRID,
    ActivationOpt,
    DebugOpt,
    DeviceOpt,
    JsonOpt,
    MaxMemoryOpt,
    SaveOpt,
    SeedOpt,
    TimingOpt,
    batch_option,
    depth_option,
    dtype_option,
    lr_option,
    plot_option,
    width_option,
)
from percgrad.cli.output import Output, execute

if TYPE_CHECKING:
    from percgrad.reports.phase import PhaseReport
    from percgrad.spec.phase import PhaseSpec

HELP = (
    "The order-to-chaos phase diagram: a σ_w² × σ_b² grid of deep chains (meanfield init), run "
    "as one stack of networks, each one's measured per-layer factor of ‖δ‖² beside mean-field "
    "theory's χ₁ at the fixed point q*, the predicted and measured edges of chaos (χ₁ = 1), the "
    "depth scale ξ and the correlation of two inputs; with --train-steps, which chains train.\n\n"
    "percgrad phase --activation tanh"
)


def phase(
    activation: ActivationOpt = "tanh",
    sigma_w2: Annotated[str | None, typer.Option(
        "--sigma-w2", metavar="GRID", help="σ_w² values: start:stop:step (stop included) or a "
        "list, e.g. 1,1.5,2 \\[default: 0.5:4:0.25; 0.5:4:0.5 with --train-steps].",
        rich_help_panel=GRID, show_default=False)] = None,
    sigma_b2: Annotated[str | None, typer.Option(
        "--sigma-b2", metavar="GRID", help="σ_b² values, the same way \\[default: 0:0.3:0.05; "
        "0:0.3:0.1 with --train-steps].", rich_help_panel=GRID, show_default=False)] = None,
    depth: Annotated[int | None, depth_option(
        "Layers of every chain \\[default: 100; 20 with --train-steps].", show_default=False)] = None,
    width: Annotated[int, width_option("Units per layer.")] = 128,
    batch: Annotated[int, batch_option("Samples whose ‖δ‖² is measured.")] = 8,
    seed: SeedOpt = 0,
    train_steps: Annotated[int, typer.Option(
        "--train-steps", help="Train every chain for N steps of gradient descent on a fixed "
        "synthetic task and show which trained, against the prediction that chains up to about "
        "6ξ layers deep train (heavy).",
        rich_help_panel=COMPARE)] = 0,
    lr: Annotated[float | None, lr_option("Learning rate for --train-steps \\[default: 0.6/depth].",
                                          show_default=False)] = None,
    device: DeviceOpt = "auto",
    dtype: Annotated[DtypeName, dtype_option(
        "Compute dtype of every chain; the hand-derived δ's of up to three chains (the grid's "
        "first, middle and last) are checked against autograd's in it, within 1e-3 for float32, "
        "1e-6 for float64 (no finite differences).", case_sensitive=False)] = DtypeName.float32,
    json: JsonOpt = False,
    timing: TimingOpt = False,
    save: SaveOpt = None,
    plot: Annotated[Path | None, plot_option(
        "Draw the phase diagram to FILE (.png, .svg, .pdf): measured colour, predicted and "
        "measured critical lines (needs matplotlib: pip install 'percgrad\\[plot]').")] = None,
    max_memory: MaxMemoryOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The phase diagram."""

    def request() -> PhaseSpec:
        from percgrad.spec.phase import phase_spec

        return phase_spec(activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                          depth=depth, width=width, batch=batch, seed=seed, device=device,
                          dtype=dtype.value, train_steps=train_steps, lr=lr, max_memory=max_memory)

    def compute(spec: PhaseSpec, interactive: bool) -> PhaseReport:
        from percgrad.engines.phase import run_phase
        from percgrad.views.progress import progress_for

        label = "training every chain" if spec.train_steps else "mean-field theory per point"
        with progress_for(label, interactive) as progress:
            return run_phase(spec, progress)

    execute(Output(json, timing, save, plot, debug), request, compute, draw)


def draw(report: PhaseReport, path: Path) -> None:
    """Draw the phase diagram to ``path``."""
    from percgrad.views.plots.phase import save_phase_plot

    save_phase_plot(report, path)
