"""percgrad watch: a training script run unchanged, its gradient flow recorded step by step."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from percgrad.cli.options import DATA, shares_output_options
from percgrad.cli.output import EXIT_INTERRUPTED, Output, exit_codes, fail, say_interrupted

if TYPE_CHECKING:
    from percgrad.engines.watch.recorder import Recorder
    from percgrad.reports.watch import WatchReport

HELP = (
    "Your training script, run unchanged (as python runs it), with every model an optimizer "
    "steps watched: per module ‖∂E/∂W‖, ‖W‖ and the update ratio ‖ΔW‖/‖W‖, dead and saturated "
    "shares, verdicts over time (vanishing or exploding flow, dying ReLUs, learning rates far "
    "off) and the step, module, op and line that made the first NaN.\n\n"
    "percgrad watch examples/diverge.py\n\n"
    "percgrad watch --every 10 --log run.jsonl train.py --epochs 3\n\n"
    "Everything after SCRIPT goes to the script. Its stdout stays its own; percgrad's live view "
    "and report go to stderr (--json: the report on stdout, the script's output on stderr). The "
    "exit status is the script's."
)
CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True,
           "allow_interspersed_args": False}
LIVE_HZ = 4.0
"""Refreshes of the live view per second, at most."""
JUDGE_S = 2.0
"""Seconds between two judgements of the verdicts in the live view."""


@shares_output_options
def watch_command(
    out: Output,
    command: Annotated[list[str] | None, typer.Argument(
        metavar="SCRIPT [ARGS]...", help="The training script and its own arguments (percgrad's "
        "options go before it).", show_default=False)] = None,
    module: Annotated[str | None, typer.Option(
        "-m", "--module", metavar="MODULE", help="Run a module as a script (as python -m).",
        rich_help_panel=DATA, show_default=False)] = None,
    every: Annotated[int | None, typer.Option(
        "--every", metavar="N", help="Record every N-th optimizer step (default: every step, "
        "thinned to at most 2,000 evenly spaced ones on a long run; the loss is checked for NaN "
        "at every step).", rich_help_panel=DATA, min=1, show_default=False)] = None,
    log: Annotated[Path | None, typer.Option(
        "--log", metavar="FILE", help="Write one JSON line per recorded step as the run goes "
        "(read it back with --replay).", rich_help_panel=DATA, show_default=False)] = None,
    replay: Annotated[Path | None, typer.Option(
        "--replay", metavar="FILE", help="No run: the report of a --log file.",
        rich_help_panel=DATA, show_default=False)] = None,
    live: Annotated[bool, typer.Option(
        "--live/--no-live", help="A live table on stderr while the script runs (when stderr is "
        "a terminal).", rich_help_panel=DATA)] = True,
    locate: Annotated[bool, typer.Option(
        "--locate/--no-locate", help="Run the step of the first non-finite value again to name "
        "the op and the line that made it.", rich_help_panel=DATA)] = True,
) -> None:
    """A user's training run."""
    words = list(command or [])
    script, args = (words[0], words[1:]) if words else (None, [])
    with exit_codes(out):
        report = _run(out, script, args, module, every, log, replay, live, locate)
        _show(out, report)
    if report.interrupted:
        say_interrupted()
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(report.exit_code or 0)


def _run(out: Output, script: str | None, args: list[str], module: str | None, every: int | None,
         log: Path | None, replay: Path | None, live: bool, locate: bool) -> WatchReport:
    from percgrad.api import replay as replayed
    from percgrad.api import watch_script
    from percgrad.errors import PercgradError

    if replay is not None:
        if script or module:
            raise PercgradError("replays a log: give no SCRIPT or -m with it", "--replay")
        return replayed(str(replay))
    if module is not None:
        if script is not None:
            args = [script, *args]
        target, as_module = module, True
    elif script is not None:
        target, as_module = script, False
    else:
        raise PercgradError("give the training script to run (percgrad watch train.py), or -m "
                            "package.module, or --replay FILE", "SCRIPT")
    from percgrad.runtime.guest_io import stdout_to_stderr

    with _live_view(live and sys.stderr.isatty() and not os.environ.get("PERCGRAD_NO_LIVE")) \
            as listener:
        if out.json:
            with stdout_to_stderr():  # stdout keeps the one JSON document
                report = watch_script(target, args, module=as_module, every=every, locate=locate,
                                      log=None if log is None else str(log), listener=listener)
        else:
            report = watch_script(target, args, module=as_module, every=every, locate=locate,
                                  log=None if log is None else str(log), listener=listener)
    for note in report.notes:
        sys.stderr.write(note if note.endswith("\n") else note + "\n")
    return report


class _live_view:
    """A Rich Live table on stderr, refreshed at most LIVE_HZ times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.live: Any = None
        self.last = 0.0
        self.judged_at = -JUDGE_S
        self.verdicts: list[Any] = []

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.live import Live

        self.live = Live(console=Console(stderr=True), auto_refresh=False, transient=True)
        self.live.start()
        return self.update

    def update(self, recorder: Recorder) -> None:
        now = time.perf_counter()
        if self.live is None or now - self.last < 1.0 / LIVE_HZ:
            return
        self.last = now
        from percgrad.views.watch_live import live_table

        # the verdicts go over every kept step and module: judged every JUDGE_S, reused between
        judged = now - self.judged_at >= JUDGE_S
        report = recorder.report(judged=judged)
        if judged:
            self.verdicts, self.judged_at = report.verdicts, now
        else:
            report.verdicts = self.verdicts
        self.live.update(live_table(report, self.live.console.width), refresh=True)

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()


def _show(out: Output, report: WatchReport) -> None:
    """The report: JSON on stdout, or the tables on stderr; then --save and --plot."""
    from percgrad.errors import PercgradError

    problems: list[str] = []
    if out.json:
        sys.stdout.write(report.to_json(timing=out.timing) + "\n")
        sys.stdout.flush()
    from percgrad.cli.output import show_report
    from percgrad.views.fit import widest
    from percgrad.views.format import make_console

    if out.json and out.save is None:
        parts: list[object] = []
    else:
        parts = show_report(report)
    if not out.json:
        from rich.console import Console

        console = Console(stderr=True, highlight=False, emoji=False)
        for part in parts:
            console.print(part)
    if out.save is not None:
        from percgrad.views.save import save_console

        recorder = make_console(record=True, quiet=True, width=widest(parts))  # type: ignore[arg-type]
        for part in parts:
            recorder.print(part)
        try:
            save_console(recorder, out.save)
            sys.stderr.write(f"wrote {out.save}\n")
        except PercgradError as exc:  # the report is shown; only the file is missing
            problems.append(str(exc))
    if out.plot is not None:
        from percgrad.views.plots.watch import save_watch_plot

        try:
            save_watch_plot(report, out.plot)
            sys.stderr.write(f"wrote {out.plot}\n")
        except PercgradError as exc:
            problems.append(str(exc))
    if problems:
        fail("; ".join(problems))
