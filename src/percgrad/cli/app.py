"""The Typer app: its group (usage errors in percgrad's style), --version and the commands."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from percgrad.cli import interrupt, streams
from percgrad.cli.commands import check, explain, inspect, multi, phase, play, single, vanish, watch
from percgrad.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    StdoutGone,
    err_console,
    on_broken_pipe,
    say_interrupted,
)
from percgrad.cli.usage import ABORTS, USAGE_ERRORS, usage_message
from percgrad.version import __version__

INTERRUPTS: tuple[type[BaseException], ...] = (*ABORTS, KeyboardInterrupt)
"""What ends a run as an interruption: Click's Abort and a Ctrl-C."""

class PercgradGroup(TyperGroup):
    """The command group: every usage error as ``Error: --option: given; allowed``, exit 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Run the CLI; format usage errors ourselves."""
        argv = list(sys.argv[1:] if args is None else args)
        interrupt.said(False)
        try:
            code = super().main(args=argv, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        except USAGE_ERRORS as exc:
            if not argv and not str(exc).strip():  # bare `percgrad`: Click printed the help
                return self._done(0, standalone_mode)
            message = usage_message(exc, argv, list(self.commands), self._options())
            err_console().print(f"[bold red]Error:[/] {escape(message)}")
            code = EXIT_BAD_INPUT
        except INTERRUPTS:
            code = EXIT_INTERRUPTED
        except StdoutGone:  # --help into `| head`: the reader has what it wanted
            code = 0
        if code == EXIT_INTERRUPTED:  # Typer ends a Ctrl-C it caught with 130, silently
            say_interrupted()
        return self._done(code, standalone_mode)

    @staticmethod
    def _done(code: Any, standalone_mode: bool) -> Any:
        """``code`` returned (not standalone) or as the process's exit status."""
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a Ctrl-C outside the command's own pipeline is said too (Typer
        would end with 130 silently)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            say_interrupted()
            raise typer.Exit(EXIT_INTERRUPTED) from None

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """A command, its flags shown without a ``<bool>`` metavar (they take no value), its
        numbers read strictly (ASCII digits, at most 2**63−1)."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _no_flag_metavars(command)
            _strict_numbers(command)
        return command

    def _options(self) -> dict[str, list[str]]:
        """Every command's option names (for "no such option" hints)."""
        return {name: [o for p in command.params for o in (*p.opts, *p.secondary_opts)]
                for name, command in self.commands.items()}

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The group's help, its own flags without a metavar too."""
        _no_flag_metavars(self)
        super().format_help(ctx, formatter)


def _strict_numbers(command: Any) -> None:
    """Whole numbers and numbers typed for Typer's int and float options are read by
    spec.parse (ASCII digits only, a sane length and size) before Typer converts them."""
    from typer import BadParameter

    from percgrad.errors import PercgradError
    from percgrad.spec.parse import strict_float, strict_int

    for param in command.params:
        kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        if kind not in (int, float) or getattr(param, "_strict", False):
            continue
        original = param.process_value
        names = [o for o in param.opts if o.startswith("--")] or list(param.opts) or [param.name]

        def process_value(ctx: Any, value: Any, _original: Any = original, _param: Any = param,
                          _read: Any = strict_int if kind is int else strict_float,
                          _option: str = names[0]) -> Any:
            if isinstance(value, str):
                try:
                    value = _read(value, _option)
                except PercgradError as exc:
                    raise BadParameter(exc.message, ctx=ctx, param=_param) from None
            return _original(ctx, value)

        param.process_value = process_value
        param._strict = True


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
app.command(name="single", help=single.HELP)(single.single)
app.command(name="multi", help=multi.HELP)(multi.multi)
app.command(name="vanish", help=vanish.HELP)(vanish.vanish)
app.command(name="inspect", help=inspect.HELP)(inspect.inspect_command)
app.command(name="check", help=check.HELP)(check.check_command)
app.command(name="explain", help=explain.HELP)(explain.explain)
app.command(name="phase", help=phase.HELP)(phase.phase)
app.command(name="watch", help=watch.HELP, context_settings=watch.CONTEXT)(watch.watch_command)
app.command(name="play", help=play.HELP)(play.play)


def _version(value: bool) -> None:
    """--version: percgrad's version and the installed torch build, then exit."""
    if value:
        try:
            typer.echo(f"percgrad {__version__}")
            typer.echo(torch_build())
        except BrokenPipeError:  # `percgrad --version | head -0`: exit 0 quietly
            streams.silence(sys.stdout)
            raise StdoutGone from None
        raise typer.Exit()


def torch_build() -> str:
    """The installed torch, its build and whether CUDA is usable, read without importing torch."""
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


def main() -> None:
    """Console-script entry point: Ctrl-C, a closed or non-UTF-8 stdout and a reader that goes
    away (``| head``) end in an exit status and at most one line, never a traceback."""
    interrupt.install()
    if not streams.prepare():
        err_console().print("[bold red]Error:[/] stdout: it is closed, so nothing can be printed; "
                            "leave it open or redirect it (> report.txt, > /dev/null)")
        sys.exit(EXIT_BAD_INPUT)
    from rich.console import Console

    Console.on_broken_pipe = on_broken_pipe  # type: ignore[method-assign,assignment]  # not exit 1
    code: Any = 0
    try:
        interrupt.arm()
        app()
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        interrupt.disarm()
        say_interrupted()
        code = EXIT_INTERRUPTED
    except StdoutGone:
        code = 0
    except OSError as exc:  # stderr itself cannot be written (2> /dev/full): say it if we can
        streams.say(f"Error: cannot write the output: {exc.strerror or exc}")
        code = EXIT_BAD_INPUT
    interrupt.disarm()
    streams.finish()
    interrupt.ignore()
    if code == EXIT_INTERRUPTED:
        interrupt.forget_caught_interrupt()
    sys.exit(code)
