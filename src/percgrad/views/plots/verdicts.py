"""The verdict lines a plot shows in its box (figure.verdict_box): the run's diagnosis and its
gradient check, in the words the tables use (VANISHING, PASS, …), with mathtext for symbols."""

from __future__ import annotations

from percgrad.reports.numbers import num
from percgrad.reports.run import CheckReport, FlowSummary, Report
from percgrad.reports.user import Diagnosis, GradCheck
from percgrad.reports.user_sentences import group_label

GRAD_W = r"$\Vert\partial E/\partial W\Vert$"
"""‖∂E/∂W‖ in mathtext."""


def word(verdict: str) -> str:
    """A verdict as the tables print it: upper case, words apart (signal-lost → SIGNAL LOST)."""
    return verdict.replace("-", " ").upper()


def run_check(check: CheckReport, dtype: str) -> tuple[str, str]:
    """(word, line) of the gradient check of single, multi or vanish."""
    if check.vacuous:
        return "vacuous", "check VACUOUS: every gradient is exactly 0, the check proves nothing"
    if check.inconclusive:
        return "inconclusive", ("check INCONCLUSIVE: the finite differences could not be "
                                "trusted")
    if check.method == "off":
        return "off", "check off (--check off)"
    if check.passed is None:
        return "n/a", "check n/a: the run is not finite"
    if check.passed:
        return "pass", (f"check PASS: max relative error {num(check.max_rel_error, 2)} ≤ "
                        f"{num(check.tolerance, 1)} ({dtype})")
    mistake = f", as --mistake {check.mistake} planted" if check.mistake else ""
    return "fail", (f"check FAIL: max relative error {num(check.max_rel_error, 2)} > "
                    f"{num(check.tolerance, 1)} ({dtype}){mistake}")


def flow(summary: FlowSummary) -> str:
    """The flow verdict in one line: VANISHING: first/last ‖∂E/∂W‖ = 1.7e-15."""
    text = word(summary.diagnosis)
    if summary.first_share is not None:
        text += f": first/last {GRAD_W} = {num(summary.first_share, 2)}"
    if summary.verdict_layers:
        shown = ", ".join(str(k) for k in summary.verdict_layers[:6])
        more = ", …" if len(summary.verdict_layers) > 6 else ""
        text += f" (layer{'s' if len(summary.verdict_layers) > 1 else ''} {shown}{more})"
    return text


def run_lines(report: Report) -> tuple[list[str], list[str]]:
    """(verdict words, lines) of one run: its flow (vanish) and its check."""
    words, lines = [], []
    if report.summary is not None:
        words.append(report.summary.diagnosis)
        lines.append(flow(report.summary))
    checked, line = run_check(report.check, str(report.settings.get("dtype", "")))
    if checked in ("pass", "fail"):
        words.append(checked)
    lines.append(line)
    return words, lines


def user_check(check: GradCheck) -> tuple[str, str]:
    """(word, line) of the check of inspect or check: PASS, FAIL at the worst entry, or why the
    check does not apply."""
    if check.reason == "off":
        return "off", "check off (--check off)"
    if check.passed is None:
        why = (check.reason or "no finite difference could be trusted").replace("-", " ")
        return "n/a", f"check n/a: {why}"
    if check.passed:
        return "pass", (f"check PASS: max relative error {num(check.max_rel_error, 2)} ≤ "
                        f"{num(check.tolerance, 1)}")
    text = (f"check FAIL: max relative error {num(check.max_rel_error, 2)} > "
            f"{num(check.tolerance, 1)}")
    worst = check.worst
    if worst is not None and worst.worst is not None:
        e = worst.worst
        at = f"along {e.name}" if check.method == "fast" else f"at {e.name}"
        text += (f"; worst {group_label(worst)} {at}: autograd {e.analytic:.6g} vs numeric "
                 f"{e.numeric:.6g}")
    return "fail", text


def diagnosis(d: Diagnosis) -> tuple[list[str], str]:
    """(verdict words, line) of inspect's diagnosis: its findings, or the flow when healthy."""
    words = list(d.kinds) or [d.flow]
    text = " + ".join(word(k) for k in words)
    if d.share is not None and d.weight_layers:
        text += (f": first/last weight layer's {GRAD_W} = {num(d.share, 2)} (on the trend of "
                 f"{len(d.weight_layers)} weight layers)")
    if d.concerned:
        shown = ", ".join(d.concerned[:4]) + (", …" if len(d.concerned) > 4 else "")
        text += f"; it concerns {shown} ({len(d.concerned)})"
    return words, text
