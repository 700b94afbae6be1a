"""The Typer app: options, help text and exit codes. The work is done in plain modules."""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Protocol, TypeVar

import typer
from rich.markup import escape
from typer.core import TyperGroup

from percgrad import catalog
from percgrad.cli.choices import CheckName, DtypeName
from percgrad.errors import PercgradError
from percgrad.spec.run import Spec
from percgrad.version import __version__

if TYPE_CHECKING:
    from rich.console import Console

    from percgrad.reports.run import Report

T = TypeVar("T")
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

MODEL = "Model"
DATA = "Data"
CHECK = "Gradient check"
RUN = "Device and output"

class PercgradGroup(TyperGroup):
    """The app's command group: usage errors (Typer's and Click's own) come out in percgrad's
    one style, ``Error: --option: what was given; what is allowed``, with exit status 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Run the CLI; format usage errors ourselves."""
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(args=argv, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        except UsageErrorTypes as exc:
            _err_console().print(f"[bold red]Error:[/] {escape(usage_message(exc, argv))}")
            code = EXIT_BAD_INPUT
        except AbortTypes:
            _err_console().print("Interrupted.")
            code = EXIT_INTERRUPTED
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """A command, its flags shown without a ``<bool>`` metavar (they take no value)."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _no_flag_metavars(command)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The group's help, its own flags without a metavar too."""
        _no_flag_metavars(self)
        super().format_help(ctx, formatter)


def _no_flag_metavars(command: Any) -> None:
    """Flags (and -h/--help) take no value: show no metavar for them."""
    for param in command.params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    if not getattr(command, "_tidy_help", False):
        original = command.get_help_option

        def help_option(ctx: Any) -> Any:
            option = original(ctx)
            if option is not None:
                option.metavar = ""
            return option

        command.get_help_option = help_option
        command._tidy_help = True


def _given(argv: list[str], names: Sequence[str]) -> str | None:
    """The value typed after one of the option ``names`` (``--x v`` or ``--x=v``)."""
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def usage_message(exc: Exception, argv: list[str]) -> str:
    """A Click usage error as one line: the option, what was given, what is allowed."""
    import difflib

    from typer import _click

    text = getattr(exc, "message", str(exc))
    if isinstance(exc, _click.exceptions.NoSuchOption):
        close = difflib.get_close_matches(exc.option_name, exc.possibilities or [], n=1)
        hint = f"; did you mean {close[0]}?" if close else "; see --help for the options"
        return f"{exc.option_name}: no such option{hint}"
    if isinstance(exc, _click.exceptions.BadOptionUsage):
        return f"{exc.option_name}: needs a value" if "requires an argument" in text else \
            f"{exc.option_name}: {text}"
    param = getattr(exc, "param", None)
    if param is not None:
        names = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(param.opts)
        label = names[0] if names else (param.human_readable_name or param.name or "?")
        if isinstance(exc, _click.exceptions.MissingParameter):
            return f"{label.upper() if not label.startswith('-') else label}: missing; see --help"
        given = _given(argv, list(param.opts))
        allowed = ""
        if "valid integer" in text:
            allowed = "a whole number"
        elif "valid number" in text or "valid float" in text:
            allowed = "a number"
        elif "valid boolean" in text:
            allowed = "true or false"
        choices = re.findall(r"'([^']*)'", text.split("is not one of", 1)[1]) if (
            "is not one of" in text) else []
        if choices:
            close = difflib.get_close_matches(str(given or ""), choices, n=1)
            allowed = "one of: " + ", ".join(choices) + (f"; did you mean {close[0]}?" if close else "")
        if given is not None and allowed:
            return f"{label}: {given!r} is not {allowed}"
        return f"{label}: {text}"
    command = re.match(r"No such command '([^']*)'", text)
    if command:
        names = [c for c in app_commands() if not c.startswith("_")]
        close = difflib.get_close_matches(command.group(1), names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"no such command {command.group(1)!r}; commands: {', '.join(names)}{hint}"
    return text


def app_commands() -> list[str]:
    """The names of the app's commands."""
    return [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]


def _click_errors() -> tuple[tuple[type[Exception], ...], tuple[type[BaseException], ...]]:
    from typer import _click, exceptions

    return (_click.exceptions.UsageError,), (exceptions.Abort,)


UsageErrorTypes, AbortTypes = _click_errors()


app = typer.Typer(
    cls=PercgradGroup,
    name="percgrad",
    help=(
        "See backpropagation: the gradient of a perceptron derived by hand (the chain rule), "
        "by PyTorch autograd and by float64 finite differences, side by side, layer by layer."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"percgrad {__version__}")
        typer.echo(torch_build())
        raise typer.Exit()


def torch_build() -> str:
    """Which torch is installed, its build (CPU or CUDA) and whether CUDA can be used, read from
    the installed files without importing torch (so --version stays instant)."""
    import importlib.metadata
    import importlib.util

    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "torch: not installed (pip install torch)"
    spec = importlib.util.find_spec("torch")
    cuda = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "version.py"
        if path.is_file():
            text = path.read_text()
            found = re.search(r"^cuda\b[^=\n]*=\s*['\"]([^'\"]+)['\"]", text, re.M)
            cuda = found.group(1) if found else None
            full = re.search(r"^__version__\b[^=\n]*=\s*['\"]([^'\"]+)['\"]", text, re.M)
            version = full.group(1) if full else version  # with its local tag, e.g. +cu130
    if cuda is None:
        return f"torch {version} (CPU-only build): CUDA is not usable; computing on the CPU"
    driver = Path("/proc/driver/nvidia/version").exists()
    usable = ("an NVIDIA driver is present, so CUDA should be usable (--device cuda)" if driver
              else "no NVIDIA driver found, so CUDA is not usable here; computing on the CPU")
    return f"torch {version} (CUDA {cuda} build): {usable}"


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """See backpropagation, one perceptron at a time."""


ActivationOpt = Annotated[
    str,
    typer.Option("--activation", "-a", metavar="NAME",
                 help="φ, the same on every layer: " + ", ".join(catalog.ACTIVATION_NAMES) + ".",
                 rich_help_panel=MODEL),
]
LossOpt = Annotated[
    str,
    typer.Option(
        "--loss", "-l", metavar="NAME",
        help="mse: mean squared error; bce: binary cross entropy (sigmoid only).",
        rich_help_panel=MODEL,
    ),
]
InitOpt = Annotated[
    str | None,
    typer.Option(
        "--init", metavar="NAME",
        help="; ".join(f"{i.name}: {i.description}" for i in catalog.INITS.values())
        + " \\[default: normal; meanfield when --sigma-w2 or --sigma-b2 is given].",
        rich_help_panel=MODEL, show_default=False,
    ),
]
SigmaW2Opt = Annotated[
    float | None,
    typer.Option("--sigma-w2", metavar="S", help="meanfield init: W ~ N(0, S/fan_in) "
                 "\\[default: 1].", rich_help_panel=MODEL, show_default=False),
]
SigmaB2Opt = Annotated[
    float | None,
    typer.Option("--sigma-b2", metavar="B", help="meanfield init: b ~ N(0, B); B > 0 turns "
                 "--bias on \\[default: 0].", rich_help_panel=MODEL, show_default=False),
]
GainOpt = Annotated[
    float, typer.Option("--gain", "-g", help="Scales the init's std.", rich_help_panel=MODEL)
]
BiasOpt = Annotated[
    bool | None, typer.Option("--bias/--no-bias", help="Add a bias to every layer \\[default: "
                              "off, on with --sigma-b2 > 0].", rich_help_panel=MODEL,
                              show_default=False)
]
BatchOpt = Annotated[
    int | None,
    typer.Option("--batch", "-b", help="Samples in the batch \\[default: 1, or the rows of --x].",
                 rich_help_panel=DATA, show_default=False),
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
DeviceOpt = Annotated[
    str, typer.Option("--device", "-d", metavar="DEVICE",
                      help="auto, cpu, cuda or cuda:N (auto: CUDA if present).",
                      rich_help_panel=RUN),
]
DtypeOpt = Annotated[
    DtypeName, typer.Option("--dtype", case_sensitive=False,
                            help="Compute dtype (the numeric check is always float64).",
                            rich_help_panel=RUN),
]
CheckOpt = Annotated[
    CheckName,
    typer.Option(
        "--check", "-c", case_sensitive=False,
        help="Finite differences: full (every entry), fast (random directions), off; "
        "auto: full up to 5000 parameters.",
        rich_help_panel=CHECK,
    ),
]
ToleranceOpt = Annotated[
    float | None,
    typer.Option("--tolerance", help="Largest relative error that passes \\[default: 1e-3 for "
                 "float32, 1e-6 for float64].", rich_help_panel=CHECK, show_default=False),
]
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
    Path | None, typer.Option("--plot", help="Draw the per-layer gradient magnitudes to FILE "
                              "(.png, .svg, .pdf; needs matplotlib: pip install 'percgrad\\[plot]').",
                              rich_help_panel=RUN, metavar="FILE"),
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


@dataclass(frozen=True)
class Output:
    """Where a command's report goes: tables or JSON, --save, --plot; and --debug."""

    json: bool = False
    timing: bool = False
    save: Path | None = None
    plot: Path | None = None
    debug: bool = False
    no_color: bool = False


class Shown(Protocol):
    """What ``_execute`` needs of a report: its JSON text and whether a check failed."""

    def to_json(self, timing: bool = ...) -> str: ...

    @property
    def failed(self) -> bool: ...


R = TypeVar("R", bound=Shown)


@dataclass(frozen=True)
class Common:
    """The options every command shares."""

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


def _shared_options(
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
    """Where the shared options are declared, once (never called)."""


def shares_common_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command(common, ...)`` the shared options: Typer sees its own parameters followed
    by those of ``_shared_options``, and the command receives the latter as one Common."""
    shared = list(inspect.signature(_shared_options, eval_str=True).parameters.values())
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
           if p.name != "common"]
    names = [p.name for p in shared]

    @functools.wraps(command)
    def wrapper(**options: Any) -> None:
        common = Common(**{name: options.pop(name) for name in names})
        command(common, **options)

    params = own + shared
    del wrapper.__wrapped__
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    from rich.markup import escape

    _err_console().print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(code)


def _debugging(out: Output) -> bool:
    return out.debug or os.environ.get("PERCGRAD_DEBUG", "") not in ("", "0")


def _execute(
    out: Output | Common,
    make_spec: Callable[[], T],
    compute: Callable[[T, bool], R],
    show: Callable[[R], list[object]],
    plot: Callable[[R, Path], None] | None = None,
) -> None:
    """Build the spec, run, then print (tables or JSON), save and plot; map errors to exit codes."""
    if isinstance(out, Common):
        out = out.output()
        plot = plot or _plot_report  # type: ignore[assignment]
    debug = _debugging(out)
    if out.no_color:
        os.environ["NO_COLOR"] = "1"  # Rich reads it for every console made from here on
    try:
        _check_outputs(out)
        spec = make_spec()
        report = compute(spec, not out.json)
        _output(out, report, show, plot)
    except PercgradError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _err_console().print("Interrupted.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if debug:
            raise
        _fail(_unexpected(exc), EXIT_BAD_INPUT if _is_memory(exc) else EXIT_INTERNAL)


def _check_outputs(out: Output) -> None:
    """Refuse a --save or --plot name that cannot be written before any work is done."""
    from percgrad.views.export import PLOT_FORMATS, SAVE_FORMATS

    for path, option, formats in ((out.save, "--save", SAVE_FORMATS),
                                  (out.plot, "--plot", PLOT_FORMATS)):
        if path is None:
            continue
        if path.suffix.lower() not in formats:
            raise PercgradError(f"cannot write {str(path)!r}: the name must end in "
                                f"{', '.join(formats)}", option)
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise PercgradError(f"cannot write {str(path)!r}: no folder {str(folder)!r}", option)
        if not os.access(folder, os.W_OK):
            raise PercgradError(f"cannot write {str(path)!r}: the folder is not writable", option)
        if path.is_dir():
            raise PercgradError(f"cannot write {str(path)!r}: it is a folder", option)


def _plot_report(report: Report, path: Path) -> None:
    from percgrad.views.export import save_plot

    save_plot(report, path)


def _is_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def _unexpected(exc: BaseException) -> str:
    if _is_memory(exc):
        return "out of memory: the network does not fit; use a smaller --width, --depth or --batch"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (
        f"internal error ({type(exc).__name__}: {first}). This is a bug in percgrad; "
        "run again with --debug for the traceback."
    )


def _output(out: Output, report: R, show: Callable[[R], list[object]],
            plot: Callable[[R, Path], None] | None) -> None:
    problems: list[str] = []
    if out.json:
        sys.stdout.write(report.to_json(timing=out.timing) + "\n")
        sys.stdout.flush()
    if not out.json or out.save is not None:
        from percgrad.views.fit import widest
        from percgrad.views.render import make_console

        parts = show(report)
        natural = widest(parts)  # type: ignore[arg-type]
        if not out.json:
            # A terminal gets its own width; a file or a pipe the output's natural width.
            console = make_console(width=None if sys.stdout.isatty() else natural)
            for part in parts:
                console.print(part)
        if out.save is not None:
            from percgrad.views.export import save_console

            # --save renders at the natural width, whatever the terminal (COLUMNS aside).
            recorder = make_console(record=True, quiet=True, width=natural)
            for part in parts:
                recorder.print(part)
            try:
                save_console(recorder, out.save)
                _err_console().print(f"wrote {out.save}")
            except PercgradError as exc:
                problems.append(str(exc))
    if out.plot is not None and plot is not None:
        try:
            plot(report, out.plot)
            _err_console().print(f"wrote {out.plot}")
        except PercgradError as exc:
            problems.append(str(exc))
    if problems:
        _fail("; ".join(problems))
    if report.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _compute_one(spec: Spec, interactive: bool) -> Report:
    from percgrad.api import run_one
    from percgrad.views.progress import phases

    with phases(interactive) as track:
        return run_one(spec, track)


@app.command(help=(
    "One neuron, o = φ(x·wᵀ): the gradient of every weight by the chain rule, by autograd and by "
    "finite differences, with the derivation.\n\nThe tutorial's first listing: "
    "percgrad single --inputs 3"
))
@shares_common_options
def single(
    common: Common,
    inputs: Annotated[int | None, typer.Option(
        "--inputs", "-n", help="Inputs N of the neuron \\[default: 3, or the length of --x/--w].",
        rich_help_panel=MODEL, show_default=False)] = None,
    x: XOpt = None,
    w: Annotated[str | None, typer.Option("--w", metavar="VALUES", help="Weights by hand, e.g. 0.3,0.1,-0.4.",
                                          rich_help_panel=DATA)] = None,
    b: Annotated[str | None, typer.Option("--b", metavar="VALUE", help="The bias by hand, e.g. 0.5 (turns "
                                          "--bias on).", rich_help_panel=DATA)] = None,
) -> None:
    """One neuron."""
    from percgrad.api import single_spec

    _execute(common, lambda: single_spec(inputs=inputs, x=x, w=w, b=b, **common.options()),
             _compute_one, _show)


@app.command(help=(
    "A layer of outputs, o = φ(W x), or a multi-layer perceptron with --hidden: every layer's "
    "gradient matrix three ways, side by side, and the backward pass in matrix form.\n\n"
    "The tutorial's second listing: percgrad multi --inputs 3 --outputs 4"
))
@shares_common_options
def multi(
    common: Common,
    inputs: Annotated[int | None, typer.Option(
        "--inputs", "-n", help="Inputs of the network \\[default: 3, or the length of --x].",
        rich_help_panel=MODEL, show_default=False)] = None,
    outputs: Annotated[int, typer.Option("--outputs", "-m", help="Outputs of the network.",
                                         rich_help_panel=MODEL)] = 4,
    hidden: Annotated[str, typer.Option("--hidden", metavar="WIDTHS", help="Hidden layer widths, e.g. 8,8 "
                                        "(none by default: one layer).", rich_help_panel=MODEL)] = "",
    x: XOpt = None,
) -> None:
    """A layer, or a multi-layer perceptron."""
    from percgrad.api import multi_spec

    _execute(common, lambda: multi_spec(inputs=inputs, outputs=outputs, hidden=hidden, x=x,
                                        **common.options()),
             _compute_one, _show)


COMPARE = "Compare and train"


@app.command(help=(
    "A deep chain of layers: how the gradient shrinks (or grows) layer by layer, beside what "
    "mean-field theory predicts, with a log-scale chart and a diagnosis; compare activations, "
    "inits or architectures (residual, layer norm), or watch it over training.\n\n"
    "The tutorial's closing remark, measured: percgrad vanish --depth 10"
))
@shares_common_options
def vanish(
    common: Common,
    depth: Annotated[int, typer.Option("--depth", "-D", help="Layers in the chain.",
                                       rich_help_panel=MODEL)] = 10,
    width: Annotated[int, typer.Option("--width", "-w", help="Units per layer (1: the "
                                       "tutorial's chain of single neurons).",
                                       rich_help_panel=MODEL)] = 1,
    inputs: Annotated[int | None, typer.Option(
        "--inputs", "-n", help="Inputs of the chain \\[default: --width]; with --residual the "
        "first layer stays plain when they differ.", rich_help_panel=MODEL,
        show_default=False)] = None,
    residual: Annotated[bool, typer.Option(
        "--residual", help="Skip connections: h_k = h_k−1 + φ(a_k).", rich_help_panel=MODEL)] = False,
    norm: Annotated[str, typer.Option(
        "--norm", metavar="KIND", help="none, or layer: h_k = φ(LN(a_k)) with γ, β as parameters.",
        rich_help_panel=MODEL)] = "none",
    compare_acts: Annotated[str | None, typer.Option(
        "--compare", metavar="LIST", help="Run once per activation, e.g. sigmoid,tanh,relu, side by side.",
        rich_help_panel=COMPARE)] = None,
    compare_inits: Annotated[str | None, typer.Option(
        "--compare-init", metavar="LIST", help="Run once per init, e.g. normal,xavier,kaiming, side by side.",
        rich_help_panel=COMPARE)] = None,
    compare_archs: Annotated[str | None, typer.Option(
        "--compare-arch", metavar="LIST", help="Run once per architecture: plain, residual, layernorm, "
        "residual-layernorm (e.g. plain,residual,layernorm).", rich_help_panel=COMPARE)] = None,
    steps: Annotated[int, typer.Option("--steps", help="Train with plain SGD for N steps and "
                                       "track every layer's ‖δ‖.", rich_help_panel=COMPARE)] = 0,
    lr: Annotated[float, typer.Option("--lr", help="SGD learning rate for --steps.",
                                      rich_help_panel=COMPARE)] = 0.1,
    bound: Annotated[bool | None, typer.Option(
        "--bound/--no-bound", help="Check ‖δ_k‖ ≤ sup|φ′|·‖W_k+1‖₂·‖δ_k+1‖ on every layer of a "
        "plain chain (one SVD per layer) \\[default: when the SVDs take under ~1.5 s].",
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
        from percgrad.api import chain_spec, comparison

        spec = chain_spec(
            depth=depth, width=width, inputs=inputs, residual=residual, norm=norm, steps=steps,
            lr=lr, bound=bound, tensors=tensors, spectrum=spectrum, **common.options(),
        )
        return spec, comparison(compare_acts, compare_inits, compare_archs, steps)

    def compute(req: tuple[Spec, tuple[str, list[str]] | None], interactive: bool) -> Report:
        from percgrad.api import run_chain
        from percgrad.views.progress import phases

        spec, compared = req
        with phases(interactive) as track:
            return run_chain(spec, compared, track, spectrum=spectrum)

    _execute(common, request, compute, _show, _vanish_plot)


# ---------------------------------------------------------------- inspect and check: the user's code

USER_CODE = ("TARGET is package.module:name or path/to/file.py:name. It is imported, which runs "
             "that module's code as python would: name only code you trust.")

TargetArg = Annotated[str, typer.Argument(metavar="TARGET", help=USER_CODE, show_default=False)]
UserCheckOpt = Annotated[
    CheckName,
    typer.Option("--check", "-c", help="Finite differences: full (every entry), fast (one "
                 "random direction per tensor), off; auto: full up to 5000 entries.",
                 rich_help_panel=CHECK),
]


def _user_output(json: bool, timing: bool, save: Path | None, plot: Path | None,
                 debug: bool) -> Output:
    return Output(json, timing, save, plot, debug)


@app.command(name="inspect", help=(
    "Your own model, module by module: ‖W‖, ‖∂E/∂W‖, ‖∂E/∂output‖, dead ReLU units, saturated "
    "sigmoid/tanh outputs, where values first turn non-finite, a diagnosis by the rule of vanish, "
    "and a gradient check (autograd vs float64 finite differences, on a float64 copy in eval "
    "mode) that names the first module whose backward is wrong.\n\n"
    "percgrad inspect examples/broken_backward.py:build --input-shape 8,16\n\n" + USER_CODE
))
def inspect_command(
    target: TargetArg,
    input_shape: Annotated[str | None, typer.Option(
        "--input-shape", metavar="SHAPE", help="Random N(0, 1) inputs (seeded) of this shape, "
        "e.g. 32,784.", rich_help_panel=DATA, show_default=False)] = None,
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
    loss: Annotated[str, typer.Option(
        "--loss", "-l", metavar="NAME", help="mse, bce (with logits), cross-entropy, or sum "
        "(E = Σ output); auto: mse with targets, sum without. Without targets mse, bce and "
        "cross-entropy use random (seeded) ones.", rich_help_panel=MODEL)] = "auto",
    train: Annotated[bool, typer.Option(
        "--train/--eval", help="The mode of the table's pass (dropout, batch statistics); the "
        "check always runs on a float64 copy in eval mode.", rich_help_panel=MODEL)] = True,
    steps: Annotated[int, typer.Option("--steps", help="Train with plain SGD for N steps on the "
                                       "batch and track every module's ‖∂E/∂W‖.",
                                       rich_help_panel=COMPARE)] = 0,
    lr: Annotated[float, typer.Option("--lr", help="SGD learning rate for --steps.",
                                      rich_help_panel=COMPARE)] = 0.1,
    check: UserCheckOpt = CheckName.auto,
    tolerance: Annotated[float | None, typer.Option(
        "--tolerance", help="Largest relative error that passes \\[default: 1e-6, the check is "
        "float64].", rich_help_panel=CHECK, show_default=False)] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    json: JsonOpt = False,
    timing: TimingOpt = False,
    save: SaveOpt = None,
    plot: PlotOpt = None,
    debug: DebugOpt = False,
) -> None:
    """A user's model."""

    def compute(_: None, interactive: bool) -> Any:
        from percgrad.api import inspect as inspect_api

        return _user_code(interactive, lambda progress: inspect_api(
            target, input_shape=input_shape, data=None if data is None else str(data),
            target_column=target_column, targets_file=None if targets is None else str(targets),
            state_dict=None if state_dict is None else str(state_dict), loss=loss, train=train,
            steps=steps, lr=lr, check=check.value, tolerance=tolerance, seed=seed,
            device=device, progress=progress))


    def draw(report: Any, path: Path) -> None:
        from percgrad.views.inspect import save_inspect_plot

        save_inspect_plot(report, path)

    _execute(_user_output(json, timing, save, plot, debug), lambda: None, compute, _show, draw)


@app.command(name="check", help=(
    "A readable gradcheck of your function of tensors (or an autograd.Function): autograd vs "
    "float64 central differences for every input, the worst entry with both values and its "
    "relative error, and the step ladder that settled it.\n\n"
    "percgrad check examples/bad_function.py:ScaledSoftplus --shapes 3x4,4\n\n" + USER_CODE
))
def check_command(
    target: TargetArg,
    shapes: Annotated[str | None, typer.Option(
        "--shapes", metavar="SHAPES", help="One shape per input, sizes joined by x, inputs by "
        "commas: 3x4,4 (random N(0, 1), seeded).", rich_help_panel=DATA,
        show_default=False)] = None,
    check: UserCheckOpt = CheckName.auto,
    tolerance: Annotated[float | None, typer.Option(
        "--tolerance", help="Largest relative error that passes \\[default: 1e-6 for float64, "
        "1e-3 for float32].", rich_help_panel=CHECK, show_default=False)] = None,
    seed: SeedOpt = 0,
    dtype: Annotated[DtypeName, typer.Option(
        "--dtype", help="The inputs' dtype for autograd (finite differences are always "
        "float64).", rich_help_panel=RUN)] = DtypeName.float64,
    json: JsonOpt = False,
    timing: TimingOpt = False,
    save: SaveOpt = None,
    plot: PlotOpt = None,
    debug: DebugOpt = False,
) -> None:
    """A user's function."""

    def compute(_: None, interactive: bool) -> Any:
        from percgrad.api import check as check_api

        return _user_code(interactive, lambda progress: check_api(
            target, shapes=shapes, check=check.value, tolerance=tolerance, seed=seed,
            dtype=dtype.value, progress=progress))


    def draw(report: Any, path: Path) -> None:
        from percgrad.views.inspect import save_check_plot

        save_check_plot(report, path)

    _execute(_user_output(json, timing, save, plot, debug), lambda: None, compute, _show, draw)


@app.command(help=(
    "A short page on one idea, with a worked example computed on the spot. Topics: "
    "delta, chain-rule, chi, saturation, dead-units, init, residual, check.\n\n"
    "e.g. percgrad explain delta"
))
def explain(
    topic: Annotated[str, typer.Argument(metavar="TOPIC", help="delta, chain-rule, chi, "
                                         "saturation, dead-units, init, residual or check.",
                                         show_default=False)],
    debug: DebugOpt = False,
) -> None:
    """A page on one topic."""
    from percgrad.catalog import resolve

    out = Output(debug=debug)
    try:
        name = resolve(topic, {t: () for t in EXPLAIN_TOPICS}, "TOPIC")
        from percgrad.engines.explain import EXAMPLES
        from percgrad.views.explain import page
        from percgrad.views.render import make_console

        make_console().print(page(EXAMPLES[name]()))
    except PercgradError as exc:
        _fail(str(exc))
    except Exception as exc:
        if _debugging(out):
            raise
        _fail(_unexpected(exc), EXIT_INTERNAL)


EXPLAIN_TOPICS = ("delta", "chain-rule", "chi", "saturation", "dead-units", "init", "residual",
                  "check")


# ---------------------------------------------------------------- phase: the order-to-chaos diagram

GRID = "Grid"


@app.command(help=(
    "The order-to-chaos phase diagram: a σ_w² × σ_b² grid of deep chains (meanfield init), run "
    "as one stack of networks, each one's measured per-layer factor of ‖δ‖² beside mean-field "
    "theory's χ₁ at the fixed point q*, the predicted and measured edges of chaos (χ₁ = 1), the "
    "depth scale ξ and the correlation of two inputs; with --train-steps, which chains train.\n\n"
    "percgrad phase --activation tanh"
))
def phase(
    activation: Annotated[str, typer.Option(
        "--activation", "-a", metavar="NAME", help="φ, the same on every layer: "
        + ", ".join(catalog.ACTIVATION_NAMES) + ".", rich_help_panel=MODEL)] = "tanh",
    sigma_w2: Annotated[str | None, typer.Option(
        "--sigma-w2", metavar="GRID", help="σ_w² values: start:stop:step (stop included) or a "
        "list, e.g. 1,1.5,2 \\[default: 0.5:4:0.25; 0.5:4:0.5 with --train-steps].",
        rich_help_panel=GRID, show_default=False)] = None,
    sigma_b2: Annotated[str | None, typer.Option(
        "--sigma-b2", metavar="GRID", help="σ_b² values, the same way \\[default: 0:0.3:0.05; "
        "0:0.3:0.1 with --train-steps].", rich_help_panel=GRID, show_default=False)] = None,
    depth: Annotated[int | None, typer.Option(
        "--depth", "-D", help="Layers of every chain \\[default: 100; 20 with --train-steps].",
        rich_help_panel=MODEL, show_default=False)] = None,
    width: Annotated[int, typer.Option("--width", "-w", help="Units per layer.",
                                       rich_help_panel=MODEL)] = 128,
    batch: Annotated[int, typer.Option("--batch", "-b", help="Samples whose ‖δ‖² is measured.",
                                       rich_help_panel=DATA)] = 8,
    seed: SeedOpt = 0,
    train_steps: Annotated[int, typer.Option(
        "--train-steps", help="Train every chain for N steps of gradient descent on a fixed "
        "synthetic task and show which trained, against the prediction depth ≲ 6ξ (heavy).",
        rich_help_panel=COMPARE)] = 0,
    lr: Annotated[float | None, typer.Option(
        "--lr", help="Learning rate for --train-steps \\[default: 0.6/depth].",
        rich_help_panel=COMPARE, show_default=False)] = None,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = DtypeName.float32,
    json: JsonOpt = False,
    timing: TimingOpt = False,
    save: SaveOpt = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Draw the phase diagram to FILE (.png, .svg, .pdf): measured colour, "
        "predicted and measured critical lines (needs matplotlib: pip install 'percgrad\\[plot]').",
        rich_help_panel=RUN, metavar="FILE")] = None,
    max_memory: MaxMemoryOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The phase diagram."""

    def request() -> Any:
        from percgrad.reports.phase import phase_spec

        return phase_spec(activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                          depth=depth, width=width, batch=batch, seed=seed, device=device,
                          dtype=dtype.value, train_steps=train_steps, lr=lr, max_memory=max_memory)

    def compute(spec: Any, interactive: bool) -> Any:
        from percgrad.engines.phase import run_phase
        from percgrad.views.progress import progress_for

        label = "training every chain" if spec.train_steps else "mean-field theory per point"
        with progress_for(label, interactive) as progress:
            return run_phase(spec, progress)


    def draw(report: Any, path: Path) -> None:
        from percgrad.views.export_phase import save_phase_plot

        save_phase_plot(report, path)

    _execute(Output(json, timing, save, plot, debug), request, compute, _show, draw)


def _vanish_plot(report: Report, path: Path) -> None:
    from percgrad.views.export_phase import save_vanish_plot

    save_vanish_plot(report, path)


def _user_code(interactive: bool, call: Callable[[Any], Any]) -> Any:
    """Run the user's code under a progress bar; what it prints goes to stderr, keeping stdout
    for the report (--json prints one document)."""
    import contextlib

    from percgrad.views.progress import progress_for

    with progress_for("finite differences", interactive) as progress, \
            contextlib.redirect_stdout(sys.stderr):
        return call(progress)


def _show(report: Any) -> list[object]:
    from percgrad.views.show import parts

    return parts(report)


def main() -> None:
    """Console-script entry point."""
    app()
