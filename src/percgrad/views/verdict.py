"""The lines that close the view of every run (single, multi, vanish): warnings, the check's
verdict (one status per run for a comparison) and the timing."""

from __future__ import annotations

import re

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from percgrad.catalog import MISTAKES
from percgrad.reports import sentences
from percgrad.reports.numbers import num
from percgrad.reports.run import Report
from percgrad.views.fit import Prose

FAILURES_SHOWN = 10
"""The failed comparisons listed under a FAIL line (the first ones)."""

_RELATION = re.compile(r"(?<![`\w])[^\s`]+(?: [=<>≤≥≈×⊙+−] [^\s`]+)+")
"""A short formula such as ``σ′(a) = 0.014`` or ``0.79 > 0.001``, kept whole when it wraps."""
WHOLE_UP_TO = 40
"""Longer relations may wrap at their spaces."""


def whole(text: str, formulas: tuple[str, ...] = ()) -> str:
    """``text`` with its short relations and ``formulas`` in backticks, which Prose keeps on one
    line."""
    for f in formulas:
        if f and "`" not in f:
            text = text.replace(f, f"`{f}`")
    parts = re.split(r"(`[^`]*`)", text)  # already marked: left alone
    return "".join(p if p.startswith("`") else _RELATION.sub(
        lambda m: f"`{m.group(0)}`" if len(m.group(0)) <= WHOLE_UP_TO else m.group(0), p)
        for p in parts)


class Hanging:
    """``mark`` then ``body``, its continuation lines aligned under its first word (a hanging
    indent); a str body wraps as Prose, never inside a formula or a number. Not a Table, so
    that a file's width (views/fit.widest) is not set by the length of a sentence."""

    def __init__(self, mark: str, body: str | Text, style: str = "",
                 mark_style: str | None = None) -> None:
        self.mark = Text(mark, style=mark_style if mark_style is not None else style)
        self.body: RenderableType = body if isinstance(body, Text) else Prose(body, style=style or None)

    def grid(self) -> Table:
        """The mark's column and the body's."""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column()
        grid.add_row(self.mark, self.body)
        return grid

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.grid()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.grid())


def verdict(report: Report) -> list[RenderableType]:
    """Warnings, then one line: passed, failed (and where), vacuous, inconclusive or not
    applicable; for a comparison, one status per run."""
    c = report.check
    s = report.settings
    parts: list[RenderableType] = [Hanging("⚠", whole(sentences.notice(w)), "yellow")
                                   for w in report.warnings]
    if report.runs:
        parts.append(_runs_line(report))
    elif c.vacuous:
        parts.append(Hanging(
            "○ VACUOUS", "every gradient is exactly 0, so analytic, autograd and the finite "
            "differences agree trivially: the check proves nothing about the derivation here.",
            mark_style="bold yellow"))
    elif c.inconclusive:
        parts.append(Hanging(
            "? INCONCLUSIVE",
            f"{c.kinks + c.unresolved} of {len(c.directions or [])} random-direction finite "
            "differences could not be trusted (see the warning); autograd agrees: max relative "
            f"error {num(c.max_rel_error, 2)}. Try --check full"
            + (" or --dtype float64." if s["dtype"] != "float64" else "."),
            mark_style="bold yellow"))
    elif c.passed is None:
        parts.append(Hanging("?", "check not applicable: the run is not finite.", "bold yellow"))
    elif c.passed:
        parts.append(Hanging(
            "✔ PASS", f"the hand-derived gradient matches {_checked_against(report)}: max "
            f"relative error `{num(c.max_rel_error, 2)} ≤ {num(c.tolerance, 1)}` ({s['dtype']})",
            mark_style="bold green"))
        if c.mistake is not None:
            parts.append(Hanging(" ", _mistake(c.mistake, sentences.mistake_missed(c.mistake)),
                                 "yellow"))
    else:
        parts.append(Hanging(
            "✘ FAIL", f"max relative error `{num(c.max_rel_error, 2)} > {num(c.tolerance, 1)}` "
            f"({s['dtype']})", mark_style="bold red"))
        for f in c.failures[:FAILURES_SHOWN]:
            parts.append(Hanging("  •", whole(sentences.mismatch(f)), "red"))
        if c.mistake is not None:
            parts.append(Hanging(" ", _mistake(c.mistake, sentences.mistake_caught(c.mistake)),
                                 "bold"))
    t = report.timing
    if t:
        parts.append(Hanging("time:", " · ".join(
            f"`{name} {t[key]:.2g} s`" for name, key in (
                ("forward", "forward_s"), ("analytic", "analytic_s"), ("autograd", "autograd_s"),
                ("numeric", "numeric_s"))), "dim"))
    return parts


def _mistake(name: str, sentence: str) -> str:
    """A sentence about a planted mistake, its wrong and right formulas kept whole."""
    m = MISTAKES[name]
    return whole(sentence, (m.wrong, m.right))


def _checked_against(report: Report) -> str:
    c = report.check
    left_out = c.kinks + c.unresolved
    if c.method == "off":
        return "autograd (finite differences off)"
    if c.method == "fast":
        used = len(c.directions or []) - left_out
        return (f"autograd and {used} random-direction finite difference(s)" if used > 0
                else "autograd (no random-direction finite difference settled)")
    return "autograd and every finite difference" + (
        f" that settled ({left_out} left out)" if left_out else "")


def check_status(r: Report) -> tuple[str, str]:
    """A run's check in a word or two, and its style."""
    c = r.check
    if c.method == "off":
        return "off", "dim"
    if c.vacuous:
        return "vacuous", "yellow"
    if c.inconclusive:
        return "inconclusive", "yellow"
    if c.passed is None:
        return "n/a (not finite)", "yellow"
    return ("pass", "green") if c.passed else ("FAIL", "bold red")


def _runs_line(report: Report) -> Hanging:
    """One status per compared run, then the worst relative error over those that ran."""
    c = report.check
    failed = c.passed is False
    line = Text()
    for i, r in enumerate(report.runs):
        status, style = check_status(r)
        line.append(("" if i == 0 else " · ") + f"{r.label} ")
        line.append(status, style=style)
    if c.max_rel_error is not None:
        line.append(f"; max relative error {num(c.max_rel_error, 2)} "
                    f"{'>' if failed else '≤'} {num(c.tolerance, 1)} ({report.settings['dtype']})")
    return Hanging("✘ FAIL" if failed else "✔ checks", line,
                   mark_style="bold red" if failed else "bold green")
