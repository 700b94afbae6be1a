"""percgrad check: a readable gradcheck of the user's function."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from percgrad.cli.choices import CheckName, DtypeName
from percgrad.cli.options import (
    DATA,
    USER_CODE,
    MaxMemoryOpt,
    SeedOpt,
    TargetArg,
    UserCheckOpt,
    dtype_option,
    shares_output_options,
    tolerance_option,
)
from percgrad.cli.output import Output, execute_user_code

if TYPE_CHECKING:
    from percgrad.reports.user import FunctionCheckReport

HELP = (
    "A readable gradcheck of your function of tensors (or an autograd.Function): autograd vs "
    "float64 central differences for every input, the worst entry with both values and its "
    "relative error, and the step ladder that settled it.\n\n"
    "percgrad check examples/bad_function.py:ScaledSoftplus --shapes 3x4,4\n\n" + USER_CODE
)


@shares_output_options
def check_command(
    out: Output,
    target: TargetArg,
    shapes: Annotated[str | None, typer.Option(
        "--shapes", metavar="SHAPES", help="One shape per input, sizes joined by x, inputs by "
        "commas: 3x4,4 (random N(0, 1), seeded).", rich_help_panel=DATA,
        show_default=False)] = None,
    check: UserCheckOpt = CheckName.auto,
    tolerance: Annotated[float | None, tolerance_option("1e-6 for float64, 1e-3 for float32")] = None,
    seed: SeedOpt = 0,
    dtype: Annotated[DtypeName, dtype_option(
        "The inputs' dtype for autograd (finite differences are always float64).")] = DtypeName.float64,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """A user's function."""
    from percgrad.api import check as check_api

    execute_user_code(out, lambda progress: check_api(
        target, shapes=shapes, check=check.value, tolerance=tolerance, seed=seed,
        dtype=dtype.value, max_memory=max_memory, progress=progress), plot)


def plot(report: FunctionCheckReport, path: Path) -> None:
    """Draw the check's relative errors to ``path``."""
    from percgrad.views.plots.user import save_check_plot

    save_check_plot(report, path)
