"""The output pipeline: build, run, print (tables or JSON), --save and --plot; errors as exit codes.

Exit status: 0 ok, 1 a check failed, 2 bad input (one ``Error: --option: …`` line), 3 a bug in
percgrad, 130 interrupted. A reader of stdout that goes away (``percgrad vanish | head``) is not
an error: the rest of the report is dropped silently and the status is the run's own (see
cli/streams.py). Warnings raised by torch, NumPy, matplotlib or percgrad itself stay off stderr
unless --debug; the user's own code's warnings are shown.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

import typer

from percgrad.cli import interrupt, streams
from percgrad.errors import PercgradError

if TYPE_CHECKING:
    from rich.console import Console

    from percgrad.reports.run import Report

T = TypeVar("T")
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
QUIET_WARNINGS = ("torch", "numpy", "matplotlib", "percgrad")
"""Packages whose warnings are kept off stderr unless --debug (the user's code's are shown)."""


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


class StdoutGone(Exception):
    """The reader of stdout went away (``percgrad … | head``): not an error of the run."""


def stdout_gone() -> NoReturn:
    """Drop whatever stdout still holds or gets (it now points at /dev/null); raise StdoutGone."""
    streams.silence(sys.stdout)
    raise StdoutGone


def on_broken_pipe(console: Any) -> None:
    """Rich's hook for a closed pipe (by default: exit 1, which would read as a failed check):
    the console falls quiet, its stream points at /dev/null, and StdoutGone is raised."""
    console.quiet = True
    streams.silence(console.file)
    raise StdoutGone


def err_console() -> Console:
    """A console on stderr for the Error, wrote and Interrupted lines (no emoji codes: what the
    user typed is printed as typed)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def say_interrupted() -> None:
    """``Interrupted.`` on stderr, once."""
    if not interrupt.said():
        with interrupt.blocked():  # a second Ctrl-C now would say it again
            err_console().print("Interrupted.")
            interrupt.said(True)


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
    """Map what a command raises to one Error line and an exit code (2, 3 or 130); warnings
    of torch, NumPy, matplotlib and percgrad stay off stderr unless --debug."""
    try:
        with warnings.catch_warnings():
            if not debugging(out):
                for package in QUIET_WARNINGS:
                    warnings.filterwarnings("ignore", module=rf"{package}(\.|$)")
            yield
    except PercgradError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        say_interrupted()
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except StdoutGone:
        raise typer.Exit(0) from None
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
        interrupt.import_quietly("numpy", "torch")  # a Ctrl-C in there would be swallowed
        report = compute(spec, not out.json)
        _emit(out, report, plot)


def execute_user_code(out: Output, call: Callable[[Any], Shown], plot: Plot) -> None:
    """``execute`` for inspect and check: ``call(progress)`` runs the user's code under a progress bar."""

    from percgrad.runtime.guest_io import close_stdout_to_guests, stdout_to_stderr

    def compute(_: None, interactive: bool) -> Shown:
        from percgrad.views.progress import progress_for

        # What the user's code writes goes to stderr (descriptor 1 included: os.write(1, …),
        # sys.__stdout__): stdout keeps the report (one JSON document).
        with progress_for("finite differences", interactive) as progress, stdout_to_stderr():
            return call(progress)

    try:
        execute(out, lambda: None, compute, plot)
    finally:
        close_stdout_to_guests()  # the user's atexit handlers run after this: not on stdout


def _check_outputs(out: Output) -> None:
    """Refuse a --save or --plot name that cannot be written before any work is done."""
    from percgrad.spec.parse import shown
    from percgrad.views.plots.figure import PLOT_FORMATS
    from percgrad.views.save import SAVE_FORMATS

    for path, option, formats in ((out.save, "--save", SAVE_FORMATS),
                                  (out.plot, "--plot", PLOT_FORMATS)):
        if path is None:
            continue
        name = shown(str(path), 60)
        if path.suffix.lower() not in formats:
            raise PercgradError(f"cannot write {name}: the name must end in "
                                f"{', '.join(formats)}", option)
        folder = path.parent if str(path.parent) else Path(".")
        try:
            longest = _name_max(folder)
            if len(os.fsencode(path.name)) > longest:
                raise PercgradError(f"cannot write {name}: the file name is "
                                    f"{len(os.fsencode(path.name)):,} bytes long; at most "
                                    f"{longest}", option)
            if not folder.is_dir():
                raise PercgradError(f"cannot write {name}: no folder {shown(str(folder), 60)}",
                                    option)
            if not os.access(folder, os.W_OK):
                raise PercgradError(f"cannot write {name}: the folder is not writable", option)
            if path.is_dir():
                raise PercgradError(f"cannot write {name}: it is a folder", option)
        except (OSError, ValueError) as exc:  # ENAMETOOLONG, ELOOP, a NUL in the name …
            reason = getattr(exc, "strerror", None) or str(exc)
            raise PercgradError(f"cannot write {name}: {reason}", option) from None
    if out.save is not None and out.plot is not None and _same_file(out.save, out.plot):
        raise PercgradError(f"names {shown(str(out.plot), 60)}, the file --save writes too; give "
                            "--save and --plot different files", "--plot")


def _name_max(folder: Path) -> int:
    """The longest file name (in bytes) ``folder``'s file system takes (255 when unknown)."""
    try:
        return int(os.pathconf(folder if folder.is_dir() else ".", "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (through ``..``, links and an existing file's
    other names too)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return str(a) == str(b)


def _to_stdout(write: Callable[[], None], problems: list[str]) -> None:
    """``write()`` the report to stdout; a full disk or another failure becomes a problem
    (reported after --save and --plot are written), a reader gone away StdoutGone."""
    try:
        write()
    except BrokenPipeError:
        stdout_gone()
    except OSError as exc:
        streams.silence(sys.stdout)
        problems.append(f"stdout: cannot write the report: {exc.strerror or exc}")


def _emit(out: Output, report: Shown, plot: Plot) -> None:
    """Print the report (JSON or tables), then --save and --plot; exit 1 if its check failed."""
    problems: list[str] = []
    if out.json:
        text = streams.json_for(sys.stdout, report.to_json(timing=out.timing) + "\n")

        def print_json() -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        with contextlib.suppress(StdoutGone):  # the reader went away: --save, --plot still
            _to_stdout(print_json, problems)
    if not out.json or out.save is not None:
        from percgrad.views.fit import widest
        from percgrad.views.format import make_console

        parts = show_report(report)
        natural = widest(parts)  # type: ignore[arg-type]
        if not out.json:
            # A terminal gets its own width; a file or a pipe the output's natural width.
            console = make_console(width=None if sys.stdout.isatty() else natural)
            console.on_broken_pipe = lambda: on_broken_pipe(console)  # type: ignore[method-assign]

            def print_parts() -> None:
                for part in parts:
                    console.print(part)

            with contextlib.suppress(StdoutGone):
                _to_stdout(print_parts, problems)
        if out.save is not None:
            from percgrad.views.save import save_console

            # --save renders at the natural width, whatever the terminal (COLUMNS aside).
            recorder = make_console(record=True, quiet=True, width=natural)
            for part in parts:
                recorder.print(part)
            try:
                save_console(recorder, out.save)
                _wrote(out.save)
            except PercgradError as exc:
                problems.append(str(exc))
    if out.plot is not None:
        try:
            plot(report, out.plot)
            _wrote(out.plot)
        except PercgradError as exc:
            problems.append(str(exc))
    if problems:
        fail("; ".join(problems))
    if getattr(report, "interrupted", False):  # a partial report was shown: still Ctrl-C's status
        say_interrupted()
        raise typer.Exit(EXIT_INTERRUPTED)
    if report.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _wrote(path: Path) -> None:
    """``wrote FILE`` on stderr, the name printed as it is (no markup)."""
    from rich.markup import escape

    err_console().print(f"wrote {escape(str(path))}")
