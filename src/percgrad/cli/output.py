"""The output pipeline: build, run, print (tables or JSON), --save and --plot; errors as exit codes."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

import typer

from percgrad.errors import PercgradError

if TYPE_CHECKING:
    from rich.console import Console

    from percgrad.reports.run import Report

T = TypeVar("T")
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


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
    """What ``execute`` needs of a report: its JSON text and whether a check failed."""

    def to_json(self, timing: bool = ...) -> str: ...

    @property
    def failed(self) -> bool: ...


Plot = Callable[[Any, Path], None]


def err_console() -> Console:
    """A console on stderr for the Error, wrote and Interrupted lines."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    from rich.markup import escape

    err_console().print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(code)


def debugging(out: Output) -> bool:
    """Whether tracebacks are wanted (--debug or PERCGRAD_DEBUG)."""
    return out.debug or os.environ.get("PERCGRAD_DEBUG", "") not in ("", "0")


def is_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the machine ran out of memory."""
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def unexpected(exc: BaseException) -> str:
    """The Error line of an exception percgrad did not expect."""
    if is_memory(exc):
        return "out of memory: the network does not fit; use a smaller --width, --depth or --batch"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (
        f"internal error ({type(exc).__name__}: {first}). This is a bug in percgrad; "
        "run again with --debug for the traceback."
    )


@contextlib.contextmanager
def exit_codes(out: Output) -> Iterator[None]:
    """Map what a command raises to one Error line and an exit code (2, 3 or 130)."""
    try:
        yield
    except PercgradError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console().print("Interrupted.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if debugging(out):
            raise
        fail(unexpected(exc), EXIT_BAD_INPUT if is_memory(exc) else EXIT_INTERNAL)


def show_report(report: Any) -> list[object]:
    """The renderables that show ``report``."""
    from percgrad.views.show import parts

    return parts(report)


def plot_report(report: Report, path: Path) -> None:
    """Draw the per-layer gradient magnitudes of ``report`` to ``path``."""
    from percgrad.views.plots.perceptron import save_plot

    save_plot(report, path)


def execute(out: Output, make_spec: Callable[[], T], compute: Callable[[T, bool], Shown],
            plot: Plot = plot_report) -> None:
    """Build the spec, run, then print (tables or JSON), save and plot; map errors to exit codes."""
    if out.no_color:
        os.environ["NO_COLOR"] = "1"  # Rich reads it for every console made from here on
    with exit_codes(out):
        _check_outputs(out)
        spec = make_spec()
        report = compute(spec, not out.json)
        _emit(out, report, plot)


def execute_user_code(out: Output, call: Callable[[Any], Shown], plot: Plot) -> None:
    """``execute`` for inspect and check: ``call(progress)`` runs the user's code under a progress bar."""

    def compute(_: None, interactive: bool) -> Shown:
        from percgrad.views.progress import progress_for

        # What the user's code prints goes to stderr: stdout keeps the report (one JSON document).
        with progress_for("finite differences", interactive) as progress, \
                contextlib.redirect_stdout(sys.stderr):
            return call(progress)

    execute(out, lambda: None, compute, plot)


def _check_outputs(out: Output) -> None:
    """Refuse a --save or --plot name that cannot be written before any work is done."""
    from percgrad.views.plots.figure import PLOT_FORMATS
    from percgrad.views.save import SAVE_FORMATS

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


def _emit(out: Output, report: Shown, plot: Plot) -> None:
    """Print the report (JSON or tables), then --save and --plot; exit 1 if its check failed."""
    problems: list[str] = []
    if out.json:
        sys.stdout.write(report.to_json(timing=out.timing) + "\n")
        sys.stdout.flush()
    if not out.json or out.save is not None:
        from percgrad.views.fit import widest
        from percgrad.views.format import make_console

        parts = show_report(report)
        natural = widest(parts)  # type: ignore[arg-type]
        if not out.json:
            # A terminal gets its own width; a file or a pipe the output's natural width.
            console = make_console(width=None if sys.stdout.isatty() else natural)
            for part in parts:
                console.print(part)
        if out.save is not None:
            from percgrad.views.save import save_console

            # --save renders at the natural width, whatever the terminal (COLUMNS aside).
            recorder = make_console(record=True, quiet=True, width=natural)
            for part in parts:
                recorder.print(part)
            try:
                save_console(recorder, out.save)
                err_console().print(f"wrote {out.save}")
            except PercgradError as exc:
                problems.append(str(exc))
    if out.plot is not None:
        try:
            plot(report, out.plot)
            err_console().print(f"wrote {out.plot}")
        except PercgradError as exc:
            problems.append(str(exc))
    if problems:
        fail("; ".join(problems))
    if report.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)
