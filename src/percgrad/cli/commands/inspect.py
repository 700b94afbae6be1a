"""percgrad inspect: the user's model, module by module."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from percgrad.cli.choices import CheckName
from percgrad.cli.options import (
    DATA,
    MODEL,
    USER_CODE,
    DeviceOpt,
    LrOpt,
    MaxMemoryOpt,
    SeedOpt,
    TargetArg,
    UserCheckOpt,
    loss_option,
    shares_output_options,
    steps_option,
    tolerance_option,
)
from percgrad.cli.output import Output, execute_user_code

if TYPE_CHECKING:
    from percgrad.reports.user import InspectReport

HELP = (
    "Your own model, module by module: ‖W‖, ‖∂E/∂W‖, ‖∂E/∂output‖, dead ReLU units, saturated "
    "sigmoid/tanh outputs, where values first turn non-finite, a diagnosis by the rule of vanish, "
    "and a gradient check (autograd vs float64 finite differences, on a float64 copy in eval "
    "mode) that names the first module whose backward is wrong.\n\n"
    "percgrad inspect examples/broken_backward.py:build --input-shape 8,16\n\n" + USER_CODE
)


@shares_output_options
def inspect_command(
    out: Output,
    target: TargetArg,
    input_shape: Annotated[list[str] | None, typer.Option(
        "--input-shape", metavar="SHAPE", help="Random N(0, 1) inputs (seeded) of this shape, "
        "e.g. 32,784; repeat it for several positional inputs, NAME=SHAPE for a keyword one, "
        ":long for token ids (e.g. 8,12:long).", rich_help_panel=DATA,
        show_default=False)] = None,
    output: Annotated[str | None, typer.Option(
        "--output", metavar="KEY", help="The output the loss is taken of: a dict key, an "
        "attribute or a tuple index (default: logits, else the first tensor).",
        rich_help_panel=DATA, show_default=False)] = None,
    class_dim: Annotated[int | None, typer.Option(
        "--class-dim", metavar="AXIS", help="The output's axis of classes for cross-entropy "
        "(default: 1, or the last when the targets are the output's shape without it, as a "
        "language model's (N, T) for (N, T, V) logits).", rich_help_panel=DATA,
        show_default=False)] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", metavar="FILE", help="Inputs from .npy/.npz (allow_pickle=False), .pt "
        "(weights_only=True) or .csv with a header; an .npz or .pt may hold targets as y.",
        rich_help_panel=DATA, show_default=False)] = None,
    target_column: Annotated[str | None, typer.Option(
        "--target-column", metavar="NAME", help="The CSV column that holds the targets.",
        rich_help_panel=DATA, show_default=False)] = None,
    targets: Annotated[Path | None, typer.Option(
        "--targets", metavar="FILE", help="Targets from a file (same formats as --data).",
        rich_help_panel=DATA, show_default=False)] = None,
    state_dict: Annotated[Path | None, typer.Option(
        "--state-dict", metavar="FILE", help="Weights to load first (torch.load with "
        "weights_only=True; nothing is unpickled).", rich_help_panel=MODEL,
        show_default=False)] = None,
    loss: Annotated[str, loss_option(
        "mse, bce (with logits), cross-entropy, or sum (E = Σ output); auto: mse with targets, "
        "sum without. Without targets mse, bce and cross-entropy use random (seeded) ones.")] = "auto",
    train: Annotated[bool, typer.Option(
        "--train/--eval", help="The mode of the table's pass (dropout, batch statistics); the "
        "check always runs on a float64 copy in eval mode.", rich_help_panel=MODEL)] = True,
    steps: Annotated[int, steps_option("Train with plain SGD for N steps on the batch and track "
                                       "every module's ‖∂E/∂W‖.")] = 0,
    lr: LrOpt = 0.1,
    check: UserCheckOpt = CheckName.auto,
    tolerance: Annotated[float | None, tolerance_option("1e-6, the check is float64")] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    max_memory: MaxMemoryOpt = None,
) -> None:
    """A user's model."""
    from percgrad.api import inspect

    execute_user_code(out, lambda progress: inspect(
        target, input_shape=(input_shape[0] if input_shape and len(input_shape) == 1 else
                             input_shape or None), output=output, class_dim=class_dim,
        data=None if data is None else str(data),
        target_column=target_column, targets_file=None if targets is None else str(targets),
        state_dict=None if state_dict is None else str(state_dict), loss=loss, train=train,
        steps=steps, lr=lr, check=check.value, tolerance=tolerance, seed=seed,
        device=device, max_memory=max_memory, progress=progress), plot)


def plot(report: InspectReport, path: Path) -> None:
    """Draw every module's gradient magnitudes to ``path``."""
    from percgrad.views.plots.user import save_inspect_plot

    save_inspect_plot(report, path)
