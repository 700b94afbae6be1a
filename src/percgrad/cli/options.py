"""The CLI's options, each declared once, and the groups that several commands share."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from percgrad import catalog
from percgrad.cli.choices import CheckName, DtypeName
from percgrad.cli.output import Output

MODEL = "Model"
DATA = "Data"
CHECK = "Gradient check"
RUN = "Device and output"
COMPARE = "Compare and train"
GRID = "Grid"

USER_CODE = ("TARGET is package.module:name or path/to/file.py:name. It is imported, which runs "
             "that module's code as python would: name only code you trust.")


def unbroken(text: str) -> str:
    """Help text whose distributions stay on one line: Rich wraps help at spaces, so the spaces
    inside a call's parentheses, N(0, gain²), and around ~ go: W~N(0,σ_w²/fan_in)."""
    out: list[str] = []
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(" and (depth or (i and not text[i - 1].isspace())):
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif ch == " " and depth:
            continue
        out.append(ch)
    return "".join(out).replace(" ~ ", "~")


# ---------------------------------------------------------------- options whose help differs by command

def inputs_option(help: str) -> Any:
    """--inputs, with the command's own help."""
    return typer.Option("--inputs", "-n", help=help, rich_help_panel=MODEL, show_default=False)


def depth_option(help: str, **extra: Any) -> Any:
    """--depth, with the command's own help."""
    return typer.Option("--depth", "-D", help=help, rich_help_panel=MODEL, **extra)


def width_option(help: str) -> Any:
    """--width, with the command's own help."""
    return typer.Option("--width", "-w", help=help, rich_help_panel=MODEL)


def batch_option(help: str, **extra: Any) -> Any:
    """--batch, with the command's own help."""
    return typer.Option("--batch", "-b", help=help, rich_help_panel=DATA, **extra)


def loss_option(help: str) -> Any:
    """--loss, with the command's own help."""
    return typer.Option("--loss", "-l", metavar="NAME", help=help, rich_help_panel=MODEL)


def steps_option(help: str) -> Any:
    """--steps, with the command's own help."""
    return typer.Option("--steps", help=help, rich_help_panel=COMPARE)


def lr_option(help: str, **extra: Any) -> Any:
    """--lr, with the command's own help."""
    return typer.Option("--lr", help=help, rich_help_panel=COMPARE, **extra)


def check_option(help: str, **extra: Any) -> Any:
    """--check, with the command's own help."""
    return typer.Option("--check", "-c", help=help, rich_help_panel=CHECK, **extra)


def tolerance_option(default: str) -> Any:
    """--tolerance, with the command's default tolerance in words."""
    return typer.Option("--tolerance", help=f"Largest relative error that passes \\[default: {default}].",
                        rich_help_panel=CHECK, show_default=False)


def dtype_option(help: str, **extra: Any) -> Any:
    """--dtype, with the command's own help."""
    return typer.Option("--dtype", help=help, rich_help_panel=RUN, **extra)


def plot_option(help: str) -> Any:
    """--plot, with what the command draws."""
    return typer.Option("--plot", help=help, rich_help_panel=RUN, metavar="FILE")


# ---------------------------------------------------------------- options with one meaning everywhere

ActivationOpt = Annotated[
    str,
    typer.Option("--activation", "-a", metavar="NAME",
                 help="φ, the same on every layer: " + ", ".join(catalog.ACTIVATION_NAMES) + ".",
                 rich_help_panel=MODEL),
]
LossOpt = Annotated[
    str, loss_option("mse: mean squared error; bce: binary cross entropy (sigmoid only)."),
]
InitOpt = Annotated[
    str | None,
    typer.Option(
        "--init", metavar="NAME",
        help=" · ".join(f"{i.name}: {unbroken(i.description)}" for i in catalog.INITS.values())
        + " \\[default: normal; meanfield when --sigma-w2 or --sigma-b2 is given].",
        rich_help_panel=MODEL, show_default=False,
    ),
]
SigmaW2Opt = Annotated[
    float | None,
    typer.Option("--sigma-w2", metavar="S", help=unbroken("meanfield init: W ~ N(0, S/fan_in) ")
                 + "\\[default: 1].", rich_help_panel=MODEL, show_default=False),
]
SigmaB2Opt = Annotated[
    float | None,
    typer.Option("--sigma-b2", metavar="B", help=unbroken("meanfield init: b ~ N(0, B); B>0 "
                 "turns --bias on ") + "\\[default: 0].", rich_help_panel=MODEL, show_default=False),
]
GainOpt = Annotated[
    float, typer.Option("--gain", "-g", metavar="G", help="Scales the init's std by G.",
                        rich_help_panel=MODEL)
]
BiasOpt = Annotated[
    bool | None, typer.Option("--bias/--no-bias", help="Add a bias to every layer \\[default: "
                              "off, on with --sigma-b2 > 0].", rich_help_panel=MODEL,
                              show_default=False)
]
BatchOpt = Annotated[
    int | None,
    batch_option("Samples in the batch \\[default: 1; single and multi: the rows of --x when "
                 "given].", show_default=False),
]
XOpt = Annotated[
    str | None,
    typer.Option(
        "--x", metavar="ROWS", help="Input by hand, e.g. 0.5,-1.2,2 (';' between the rows of a batch).",
        rich_help_panel=DATA,
    ),
]
TargetOpt = Annotated[
    str,
    typer.Option("--target", "-t", metavar="VALUES",
                 help="Target: one value for all outputs, or one per output.", rich_help_panel=DATA),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", "-s", help="Seed of every random number.", rich_help_panel=DATA)
]
LrOpt = Annotated[float, lr_option("SGD learning rate for --steps.")]
ResidualOpt = Annotated[bool, typer.Option(
    "--residual", help="h_k = h_k−1 + φ(a_k): skip connections.", rich_help_panel=MODEL)]
NormOpt = Annotated[str, typer.Option(
    "--norm", metavar="KIND", help="none, or layer: h_k = φ(LN(a_k)) with γ, β as parameters.",
    rich_help_panel=MODEL)]
DeviceOpt = Annotated[
    str, typer.Option("--device", "-d", metavar="DEVICE",
                      help="auto, cpu, cuda or cuda:N (auto: CUDA if present).",
                      rich_help_panel=RUN),
]
DtypeOpt = Annotated[
    DtypeName, dtype_option("Compute dtype (the numeric check is always float64).",
                            case_sensitive=False),
]
CheckOpt = Annotated[
    CheckName,
    check_option("Finite differences: full (every entry), fast (random directions), off; "
                 "auto: full up to 5000 parameters.", case_sensitive=False, metavar="MODE"),
]
UserCheckOpt = Annotated[
    CheckName,
    check_option("Finite differences: full (every entry), fast (one random direction per "
                 "tensor), off; auto: full up to 5000 entries."),
]
ToleranceOpt = Annotated[float | None, tolerance_option("1e-3 for float32, 1e-6 for float64")]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.",
                       rich_help_panel=RUN),
]
TimingOpt = Annotated[
    bool, typer.Option("--timing", help="Put measured timings in the JSON (otherwise null, so "
                       "that equal runs give identical documents).", rich_help_panel=RUN),
]
SaveOpt = Annotated[
    Path | None, typer.Option("--save", help="Also write what is shown to FILE (.svg, .html or .txt).",
                              rich_help_panel=RUN, metavar="FILE"),
]
PlotOpt = Annotated[
    Path | None, plot_option("Draw the per-layer gradient magnitudes to FILE (.png, .svg, .pdf; "
                             "needs matplotlib: pip install 'percgrad\\[plot]')."),
]
MaxMemoryOpt = Annotated[
    str | None,
    typer.Option("--max-memory", help="Refuse runs estimated to need more than SIZE (e.g. 2G, "
                 "500M) \\[default: 90% of the free memory].", rich_help_panel=RUN, metavar="SIZE",
                 show_default=False),
]
MistakeOpt = Annotated[
    str | None,
    typer.Option("--mistake", metavar="NAME", help="Plant a classic backprop mistake in the "
                 "hand-derived pass and watch the check catch it: "
                 + ", ".join(catalog.MISTAKES) + ".", rich_help_panel=CHECK, show_default=False),
]
NoColorOpt = Annotated[
    bool, typer.Option("--no-color", help="No colour (as NO_COLOR=1); colour never reaches a "
                       "file or a pipe anyway.", rich_help_panel=RUN),
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Show Python tracebacks (also PERCGRAD_DEBUG=1).",
                       rich_help_panel=RUN),
]
TargetArg = Annotated[str, typer.Argument(metavar="TARGET", help=USER_CODE, show_default=False)]


# ---------------------------------------------------------------- groups: declared once, given as one value

@dataclass(frozen=True)
class Common:
    """The options single, multi and vanish share."""

    target: str
    activation: str
    loss: str
    init: str | None
    gain: float
    bias: bool | None
    sigma_w2: float | None
    sigma_b2: float | None
    batch: int | None
    seed: int
    device: str
    dtype: DtypeName
    check: CheckName
    tolerance: float | None
    json: bool
    timing: bool
    save: Path | None
    plot: Path | None
    max_memory: str | None
    mistake: str | None
    no_color: bool
    debug: bool

    def output(self) -> Output:
        """The output options."""
        return Output(self.json, self.timing, self.save, self.plot, self.debug, self.no_color)

    def options(self) -> dict[str, Any]:
        """The API's keyword arguments these options set."""
        return {
            "activation": self.activation, "loss": self.loss, "init": self.init, "gain": self.gain,
            "bias": self.bias, "sigma_w2": self.sigma_w2, "sigma_b2": self.sigma_b2,
            "batch": self.batch, "seed": self.seed, "device": self.device,
            "dtype": self.dtype.value, "check": self.check.value, "tolerance": self.tolerance,
            "max_memory": self.max_memory, "target": self.target, "mistake": self.mistake,
        }


def _common_options(
    target: TargetOpt = "1.0",
    batch: BatchOpt = None,
    seed: SeedOpt = 0,
    activation: ActivationOpt = "sigmoid",
    loss: LossOpt = "mse",
    init: InitOpt = None,
    gain: GainOpt = 1.0,
    bias: BiasOpt = None,
    sigma_w2: SigmaW2Opt = None,
    sigma_b2: SigmaB2Opt = None,
    check: CheckOpt = CheckName.auto,
    tolerance: ToleranceOpt = None,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = DtypeName.float32,
    json: JsonOpt = False,
    timing: TimingOpt = False,
    save: SaveOpt = None,
    plot: PlotOpt = None,
    max_memory: MaxMemoryOpt = None,
    mistake: MistakeOpt = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Where the options of Common are declared, in the order of the help (never called)."""


def _output_options(
    json: JsonOpt = False,
    timing: TimingOpt = False,
    save: SaveOpt = None,
    plot: PlotOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Where the output options of inspect and check are declared (never called)."""


Command = Callable[..., None]


def option_group(template: Command, group: Callable[..., object]) -> Callable[[Command], Command]:
    """Append ``template``'s options to a command's; it gets them as one ``group`` (first parameter)."""
    shared = list(inspect.signature(template, eval_str=True).parameters.values())
    names = [p.name for p in shared]

    def decorate(command: Command) -> Command:
        own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]

        @functools.wraps(command)
        def wrapper(**options: Any) -> None:
            command(group(**{name: options.pop(name) for name in names}), **options)

        params = own + shared
        del wrapper.__wrapped__
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


shares_common_options = option_group(_common_options, Common)
"""``command(common: Common, ...)``: single, multi and vanish."""
shares_output_options = option_group(_output_options, Output)
"""``command(out: Output, ...)``: inspect and check."""
