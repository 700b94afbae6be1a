"""Properties of what ``single`` and ``multi`` print, over a generated set of command lines
(every activation, loss and --mistake, hidden shapes, batches, at 60, 80, 100 and 140 columns
and at a file's natural width):

* every worked line parses back: its printed numbers, each within its printed precision,
  give its printed result (interval arithmetic, tests/worked_util.py);
* the structured records (views/worked.py) are what is printed, and a line whose formula the
  planted mistake changed is marked with it (``(✗ name: …)``), no other;
* every ∂E/∂W entry a worked line cites is among the matrix cells shown, printed as the matrix
  formats it; the weight matrix and its three gradients show the same rows and columns, each
  cell beside its own row; every title is whole on one line; no line is wider than the width;
* no warning claims a σ′ factor where the derivation shows it cancel (bce).
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

import percgrad
from percgrad.catalog import ACTIVATIONS, LOSSES, MISTAKES
from percgrad.errors import PercgradError
from percgrad.reports.numbers import figure, sig
from percgrad.reports.run import Report
from percgrad.spec.build import multi_spec, single_spec
from percgrad.views.fit import widest
from percgrad.views.format import matrix_format
from percgrad.views.show import parts
from percgrad.views.worked import Worked, loss_n, multi_lines, single_lines
from worked_util import arithmetic_error, arithmetic_lines, logical_lines, matrices, render_parts

WIDTHS: list[int | None] = [60, 80, 100, 140, None]
"""None: a file's natural width (views.fit.widest, as the CLI uses when not on a terminal)."""
SHAPES = [(3, "", 4), (4, "4", 4), (3, "4,4", 2), (4, "8,8", 2), (2, "2", 1), (4, "4,4", 4),
          (5, "8", 3), (3, "5", 5)]
"""multi's (inputs, hidden, outputs)."""
PER_STRATUM = 17


@dataclass(frozen=True)
class Case:
    command: str
    options: tuple[tuple[str, Any], ...]
    width: int | None

    @property
    def kw(self) -> dict[str, Any]:
        return dict(self.options)

    def __str__(self) -> str:
        opts = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in self.options if v not in ("", None))
        return f"{self.command} {opts} @{self.width or 'file'}"


def _valid(command: str, kw: dict[str, Any]) -> bool:
    """The options make a spec (building one runs nothing)."""
    try:
        (single_spec if command == "single" else multi_spec)(device="cpu", **kw)
    except PercgradError:
        return False
    return True


def _cases() -> list[Case]:
    """Stratified by command × mistake, the rest drawn at random (fixed seed)."""
    rng = random.Random(17)
    cases: list[Case] = []
    widths = itertools.cycle(WIDTHS)
    for command, mistake in itertools.product(("single", "multi"), [None, *MISTAKES]):
        if command == "single" and mistake in ("no-transpose", "stale-delta"):
            continue  # one layer: there is no δ recursion to get wrong
        made = tries = 0
        while made < PER_STRATUM and tries < 200:
            tries += 1
            act = rng.choice(list(ACTIVATIONS))
            loss = rng.choice(["mse", "mse", "bce", "sum"] if act == "sigmoid" else ["mse", "mse", "sum"])
            kw: dict[str, Any] = {"activation": act, "loss": loss, "mistake": mistake,
                                  "seed": rng.randrange(4), "batch": rng.choice([1, 1, 2, 3, 6])}
            if command == "single":
                kw["inputs"] = rng.choice([1, 3, 6])
                kw["bias"] = rng.random() < 0.3
            else:
                kw["inputs"], kw["hidden"], kw["outputs"] = rng.choice(SHAPES)
                kw["bias"] = rng.random() < 0.3
            if rng.random() < 0.25:
                kw["check"] = "off"
            if not _valid(command, kw):
                continue
            cases.append(Case(command, tuple(sorted(kw.items())), next(widths)))
            made += 1
    return cases


CASES = _cases()
_RUNS: dict[tuple[str, tuple[tuple[str, Any], ...]], Report] = {}


def _report(case: Case) -> Report:
    key = (case.command, case.options)
    if key not in _RUNS:
        run = percgrad.single if case.command == "single" else percgrad.multi
        _RUNS[key] = run(device="cpu", **case.kw)
    return _RUNS[key]


def test_the_generated_set_covers_every_mistake_loss_activation_and_width() -> None:
    assert len(CASES) >= 200  # issue 17: at least 200 generated command lines
    kws = [c.kw for c in CASES]
    assert {k["mistake"] for k in kws} == {None, *MISTAKES}
    assert {k["loss"] for k in kws} == set(LOSSES)
    assert {k["activation"] for k in kws} == set(ACTIVATIONS)
    assert {c.width for c in CASES} == set(WIDTHS)
    assert {k.get("hidden") for k in kws if "hidden" in k} == {s[1] for s in SHAPES}


# ------------------------------------------------------------- the local formula of each δ


def _correct_output_delta(report: Report, b: int, i: int, dphi: float) -> float:
    """δ of the output by the right formula, from the printed run's own o, t and φ′."""
    assert report.output is not None
    loss = LOSSES[report.settings["loss"]]
    n = loss_n(report)
    o = float(report.output[b, i])
    t = float(report.target[b, i]) if report.target is not None else 0.0
    if not loss.uses_target:
        return dphi
    if loss.cancels_sigmoid:
        return (o - t) / n
    return 2.0 / n * (o - t) * dphi


def _deviates(computed: float, right: float) -> bool:
    return abs(computed - right) > 1e-4 * max(abs(computed), abs(right), 1e-30)


_LHS = re.compile(r"^δ([₀-₉]+)\[(\d+),(\d+)\]$")


def _mistake_problems(report: Report, lines: list[Worked]) -> list[str]:
    """A δ line whose value the planted mistake changed (against the right formula applied to
    what the pass had at that point) must say so, naming the mistake; no other line may."""
    mistake = report.settings.get("mistake")
    problems = []
    for line in lines:
        if line.mistake and not line.mistake.startswith(f"✗ {mistake}:"):
            problems.append(f"{line.text}: marked, but the planted mistake is {mistake}")
    if report.command == "single":
        assert report.out is not None
        changed = any(_deviates(float(report.out.delta[b, 0]),
                                _correct_output_delta(report, b, 0, float(report.out.do_da[b, 0])))
                      for b in range(report.out.delta.shape[0]))
        marked = any(line.mistake for line in lines)
        if changed and not marked:
            problems.append(f"the mistake changed δ but no line says so: {lines[0].text}")
        return problems
    layers = report.layers
    for line in lines:
        m = _LHS.match(line.lhs)
        if not m:
            continue
        k = int(m.group(1).translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789"))) - 1
        b, i = int(m.group(2)), int(m.group(3))
        layer = layers[k]
        assert layer.delta is not None and layer.dphi is not None
        dphi = float(layer.dphi[b, i])
        if k == len(layers) - 1:
            right = _correct_output_delta(report, b, i, dphi)
        else:
            above = layers[k + 1]
            assert above.delta is not None and above.weight is not None
            right = float(above.delta[b] @ above.weight[:, i]) * dphi
        if _deviates(float(layer.delta[b, i]), right) and not line.mistake:
            problems.append(f"{line.text}: the pass computed {float(layer.delta[b, i]):.6g}, "
                            f"the right formula gives {right:.6g}, and the line is not marked")
    return problems


# ------------------------------------------------------------------------ the properties


def _check(case: Case) -> list[str]:
    report = _report(case)
    shown = parts(report)
    width = case.width or widest(shown)
    text = render_parts(shown, width)
    problems = [f"line {n} is {cell_len(line)} > {width} columns: {line!r}"
                for n, line in enumerate(text.splitlines(), 1) if cell_len(line) > width]
    checked = 0
    for line, expression, result in arithmetic_lines(text):
        checked += 1
        error = arithmetic_error(expression, result)
        if error:
            problems.append(f"{line}\n    {error}")
    records = single_lines(report) if case.command == "single" else multi_lines(report)
    assert records
    printed = set(logical_lines(text))
    for record in records:
        if record.text.strip() not in printed:
            problems.append(f"record not printed as such: {record.text!r}")
        if record.expression and "…" not in record.expression:
            error = arithmetic_error(record.expression, record.result)
            if error:
                problems.append(f"record {record.text}\n    {error}")
    if checked == 0 and any(r.expression and "…" not in r.expression for r in records):
        problems.append("no worked line was read back")
    problems += _mistake_problems(report, records)
    if case.command == "multi":
        problems += _matrix_problems(report, records, text)
    if report.settings["loss"] == "bce":
        problems += [f"a σ′ factor claimed where it cancels: {line}"
                     for line in logical_lines(text) if "multiplied by" in line]
        problems += [f"{w.kind} names the output layer of a bce run" for w in report.warnings
                     if w.kind == "saturated" and len(report.layers) in w.layers]
    return problems


def _matrix_problems(report: Report, records: list[Worked], text: str) -> list[str]:
    shown = matrices(text)
    problems = []
    for k, layer in enumerate(report.layers):
        g = layer.grad
        named = {layer.name: layer.weight, f"∂E/∂{layer.name} analytic": g.analytic,
                 f"∂E/∂{layer.name} autograd": g.autograd, f"∂E/∂{layer.name} numeric": g.numeric}
        cells = None
        for name, values in named.items():
            if values is None:
                continue
            if name not in shown:
                problems.append(f"{name} is not shown with its title whole on one line")
                continue
            m = shown[name]
            fmt = matrix_format(values)
            for (r, c), cell in m.cells.items():
                if cell != fmt(float(values[r, c])):
                    problems.append(f"{name}[{r},{c}] shows {cell}, is {fmt(float(values[r, c]))}")
            if cells is None:
                cells = set(m.cells)
            elif set(m.cells) != cells:
                problems.append(f"{name} shows other entries than {layer.name}")
        for record in records:
            for cite in record.cites:
                if cite.layer == k and (cite.row, cite.col) not in shown.get(
                        f"∂E/∂{layer.name} analytic", Any).cells:  # type: ignore[union-attr]
                    problems.append(f"{record.lhs} is cited but ∂E/∂{layer.name}"
                                    f"[{cite.row},{cite.col}] is not shown")
    return problems


@pytest.mark.parametrize("case", CASES, ids=str)
def test_worked_lines_multiply_out_and_cite_what_is_shown(case: Case) -> None:
    problems = _check(case)
    assert not problems, f"{case}:\n" + "\n".join(problems[:12])


# -------------------------------------------------------- the checker itself, on its own


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.floats(1e-4, 1e3), min_size=1, max_size=4),
       st.sampled_from([1, 2, 4, 6]), st.booleans())
def test_the_checker_accepts_true_lines_and_rejects_a_changed_digit(
        factors: list[float], n: int, negative: bool) -> None:
    """Printed factors and their product's print always pass; the product printed 5% off
    (far beyond what 4-digit factors allow) always fails."""
    factors = [-factors[0], *factors[1:]] if negative else factors
    value = 2.0 / n * float(np.prod(factors))
    expression = "·".join([f"(2/{n})", *(figure(v) for v in factors)])
    assert arithmetic_error(expression, sig(value, 3)) is None
    off = sig(value * 1.05, 3)  # 5% off: beyond 4-digit factors (≤ 4 × 0.05%)
    assert arithmetic_error(expression, off) is not None


def test_the_checker_reads_the_issues_lines_as_wrong() -> None:
    """The lines issue 17 quotes from --mistake runs do not multiply out."""
    assert arithmetic_error("(-0.9927)·0.2367", "-0.993") is not None
    assert arithmetic_error("(2/4)·(-0.7273)·0.1983", "-0.364") is not None
    assert arithmetic_error("0.0659·0.2386", "-0.0175") is not None
    assert arithmetic_error("(2/4)·(-0.7273)·0.1983", "-0.0721") is None
    assert arithmetic_error("(-0.01418)/(4·0.01398)", "-0.254") is None
