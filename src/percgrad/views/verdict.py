"""The lines that close the view of every run (single, multi, vanish): warnings, the check's
verdict (one status per run for a comparison) and the timing."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from percgrad.reports import sentences
from percgrad.reports.numbers import num
from percgrad.reports.run import Report
from percgrad.views.fit import Prose

FAILURES_SHOWN = 10
"""The failed comparisons listed under a FAIL line (the first ones)."""


def verdict(report: Report) -> list[RenderableType]:
    """Warnings, then one line: passed, failed (and where), vacuous, inconclusive or not
    applicable; for a comparison, one status per run."""
    c = report.check
    s = report.settings
    parts: list[RenderableType] = [Text(f"⚠ {sentences.notice(w)}", style="yellow")
                                   for w in report.warnings]
    if report.runs:
        parts.append(_runs_line(report))
    elif c.vacuous:
        parts.append(Text.assemble(
            ("○ VACUOUS ", "bold yellow"),
            "every gradient is exactly 0, so analytic, autograd and the finite differences agree "
            "trivially: the check proves nothing about the derivation here."))
    elif c.inconclusive:
        parts.append(Text.assemble(
            ("? INCONCLUSIVE ", "bold yellow"),
            f"{c.kinks + c.unresolved} of {len(c.directions or [])} random-direction finite "
            "differences could not be trusted (see the warning); autograd agrees: max relative "
            f"error {num(c.max_rel_error, 2)}. Try --check full"
            + (" or --dtype float64." if s["dtype"] != "float64" else ".")))
    elif c.passed is None:
        parts.append(Text("? check not applicable: the run is not finite.", style="bold yellow"))
    elif c.passed:
        parts.append(Text.assemble(
            ("✔ PASS ", "bold green"),
            f"the hand-derived gradient matches {_checked_against(report)}: max relative error "
            f"{num(c.max_rel_error, 2)} ≤ {num(c.tolerance, 1)} ({s['dtype']})",
        ))
        if c.mistake is not None:
            parts.append(Text(f"  {sentences.mistake_missed(c.mistake)}", style="yellow"))
    else:
        parts.append(Text.assemble(
            ("✘ FAIL ", "bold red"),
            f"max relative error {num(c.max_rel_error, 2)} > {num(c.tolerance, 1)} ({s['dtype']})",
        ))
        for f in c.failures[:FAILURES_SHOWN]:
            parts.append(Text(f"  • {sentences.mismatch(f)}", style="red"))
        if c.mistake is not None:
            parts.append(Text(f"  {sentences.mistake_caught(c.mistake)}", style="bold"))
    t = report.timing
    if t:
        parts.append(Prose("time: " + " · ".join(
            f"`{name} {t[key]:.2g} s`" for name, key in (
                ("forward", "forward_s"), ("analytic", "analytic_s"), ("autograd", "autograd_s"),
                ("numeric", "numeric_s"))), style="dim"))
    return parts


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


def _status(r: Report) -> tuple[str, str]:
    c = r.check
    if c.vacuous:
        return "vacuous", "yellow"
    if c.inconclusive:
        return "inconclusive", "yellow"
    if c.passed is None:
        return "n/a (not finite)", "yellow"
    return ("pass", "green") if c.passed else ("FAIL", "bold red")


def _runs_line(report: Report) -> Text:
    """One status per compared run, then the worst relative error over those that ran."""
    c = report.check
    failed = c.passed is False
    line = Text.assemble(("✘ FAIL " if failed else "✔ checks ", "bold red" if failed else "bold green"))
    for i, r in enumerate(report.runs):
        status, style = _status(r)
        line.append(("" if i == 0 else " · ") + f"{r.label} ")
        line.append(status, style=style)
    if c.max_rel_error is not None:
        line.append(f"; max relative error {num(c.max_rel_error, 2)} "
                    f"{'>' if failed else '≤'} {num(c.tolerance, 1)} ({report.settings['dtype']})")
    return line
