"""What ``vanish`` judges a chain's gradient to do, and the trial runs behind its advice: every
setting it advises is run first (at the chain's shape, or at a smaller stand-in with the same
depth, σ_w² and σ_b² when that shape is too large to run again) and advised only where that run
is judged stable."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from percgrad.catalog import ACTIVATIONS, INIT_NAMES, LOSSES
from percgrad.engines.meanfield import sigma_b2, sigma_w2, theory_for
from percgrad.engines.perceptron import Run, build_report, execute
from percgrad.engines.run_tensors import stage
from percgrad.reports.records import Advice, Notice
from percgrad.reports.run import Report
from percgrad.runtime.progress import Tracker, part
from percgrad.spec.run import Spec
from percgrad.theory.flow import FlowVerdict, judge_chain, trend

VERIFY_BUDGET = 2**25
"""A trial runs at the chain's own shape when depth·width²·max(batch, PROXY_BATCH) is at most
this (a few tenths of a second on one core: drawing the weights costs about as much as a pass
over eight samples); beyond it, at a proxy."""
PROXY_WIDTH, PROXY_BATCH = 64, 8
"""A proxy halves the batch, then the width, towards these floors until it fits the budget."""
MAX_ADVICE = 3
"""Settings advised at most."""
MAX_TRIALS = 4
"""Candidate settings tried at most, best by theory first."""
SCALED_INITS = ("xavier", "kaiming")
"""The inits the init-scale warning would send a reader to."""
HOPELESS = ("dead", "non-finite", "signal-lost", "undetermined")
"""Verdicts any setting that runs and is judged improves on."""


def first_silent(run: Run) -> int | None:
    """The 1-based layer whose output h_k is first exactly 0 on every unit and sample."""
    for k, tr in enumerate(run.fwd.traces):
        if not bool(tr.out.any()):
            return k + 1
    return None


def verdict_of(run: Run, report: Report) -> FlowVerdict:
    """theory.flow.judge_chain over a report's layers: dead where φ′ = 0 on every unit and sample,
    or δ is exactly 0 without underflow; the signal lost where some h_k is exactly 0."""
    layers = report.layers
    dead = [layer.mean_abs_dphi == 0 or (layer.delta_norm == 0 and not layer.underflow)
            for layer in layers]
    bad = None
    if report.first_nonfinite is not None:
        found = re.match(r"layer (\d+)", report.first_nonfinite)
        bad = int(found.group(1)) if found else len(layers)
    return judge_chain([layer.grad_norm for layer in layers], dead, bad, first_silent(run))


def proxy_shape(spec: Spec) -> tuple[int, int] | None:
    """(width, batch) of a smaller stand-in for ``spec``'s chain within VERIFY_BUDGET, or None
    where the chain itself fits (or nothing smaller would be faithful)."""
    width, batch = max(spec.sizes), spec.batch

    def cost() -> int:
        return spec.depth * width * width * max(batch, PROXY_BATCH)

    while cost() > VERIFY_BUDGET:
        if batch > PROXY_BATCH:
            batch = max(PROXY_BATCH, batch // 2)
        elif width > PROXY_WIDTH:
            width = max(PROXY_WIDTH, width // 2)
        else:
            break
    return None if (width, batch) == (max(spec.sizes), spec.batch) else (width, batch)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


def trial_spec(spec: Spec, act: str, init: str) -> tuple[Spec, tuple[int, int] | None]:
    """The quick run (no check, no tensors kept) of ``spec`` with another activation and init,
    and the (width, batch) of its proxy: the same depth, architecture, σ_w² and σ_b² (an init
    whose σ_w² or σ_b² depends on the width is drawn as ``meanfield`` with the chain's values)."""
    quick = dataclasses.replace(
        spec, activation=act, init=init, check="off", keep_tensors=False, bound=False,
        chain=None, mistake=None, sigma_w2=spec.sigma_w2 if init == "meanfield" else 1.0,
        sigma_b2=spec.sigma_b2 if init == "meanfield" else 0.0)
    proxy = proxy_shape(quick)
    if proxy is None:
        return quick, None
    width, batch = proxy
    sizes = tuple(min(s, width) for s in quick.sizes)
    target = quick.target if len(quick.target) == 1 else quick.target[:sizes[-1]]
    small = dataclasses.replace(quick, sizes=sizes, batch=batch, target=target)
    w_full, b_full = sigma_w2(quick)[-1], sigma_b2(quick)[-1]
    if not (_close(sigma_w2(small)[-1], w_full) and _close(sigma_b2(small)[-1], b_full)):
        small = dataclasses.replace(small, init="meanfield", gain=1.0, sigma_w2=w_full,
                                    sigma_b2=b_full)
    return small, proxy


@dataclass(frozen=True)
class Trial:
    """What a trial run of another setting was judged."""

    verdict: str
    proxy: tuple[int, int] | None


RUN_UNITS = 100
"""Units of the trial runs' bar per run."""


class Trials:
    """Trial runs of ``spec`` with other settings, each run once, counted on one progress bar
    (RUN_UNITS per run, so that a run's own passes move it)."""

    def __init__(self, spec: Spec, planned: int, track: Tracker | None = None) -> None:
        self.spec = spec
        self.planned = planned
        self.done: dict[tuple[str, str], Trial] = {}
        self.progress = stage(track, "trial runs of the settings to advise") if planned else None
        self.total = planned * RUN_UNITS
        if self.progress is not None:
            self.progress(0, self.total)

    def run(self, act: str, init: str) -> Trial:
        """The verdict of ``spec`` run with ``act`` and ``init``."""
        key = (act, init)
        if key not in self.done:
            spec, proxy = trial_spec(self.spec, act, init)
            start = min(len(self.done), self.planned - 1) * RUN_UNITS
            result, timing = execute(spec, progress=part(self.progress, start, RUN_UNITS,
                                                         self.total))
            self.done[key] = Trial(verdict_of(result, build_report(result, timing)).kind, proxy)
            if self.progress is not None:
                self.progress(min(len(self.done), self.planned) * RUN_UNITS, self.total)
        return self.done[key]

    def close(self) -> None:
        """The bar at its end (fewer runs than planned where advice was found early)."""
        if self.progress is not None:
            self.progress(self.total, self.total)


def candidates(spec: Spec, q_in: float, mean_in: float, verdict: str) -> list[tuple[str, str, float]]:
    """Other inits or activations that theory puts clearly closer to χ = 1, best first, as
    (activation, init, χ̄); none for a stable chain (nothing to mend)."""
    if verdict == "stable":
        return []
    pairs = [(spec.activation, init) for init in INIT_NAMES if init not in (spec.init, "meanfield")]
    for pair in (("tanh", "xavier"), ("relu", "kaiming")):
        if pair != (spec.activation, spec.init) and pair not in pairs:
            pairs.append(pair)
    current = theory_for(spec, q_in, mean_in=mean_in).mean_chi
    distance = abs(math.log(current)) if current and math.isfinite(current) else math.inf
    if verdict in HOPELESS:
        distance = math.inf  # any setting that runs is better
    scored: list[tuple[float, str, str, float]] = []
    for act, init in pairs:
        if LOSSES[spec.loss].needs_unit_interval and not ACTIVATIONS[act].unit_interval:
            continue
        chi = theory_for(spec, q_in, init=init, activation=act, mean_in=mean_in).mean_chi
        # a clear improvement only: a layer norm, say, makes every init give the same χ
        if chi and math.isfinite(chi) and abs(math.log(chi)) < 0.9 * distance - 1e-9:
            scored.append((abs(math.log(chi)), act, init, chi))
    return [(act, init, chi) for _, act, init, chi in sorted(scored)][:MAX_TRIALS]


def advise(spec: Spec, picks: list[tuple[str, str, float]], trials: Trials,
           verdict: str) -> list[Advice]:
    """The candidates whose trial run is judged stable (at most MAX_ADVICE), or a record that
    none was (``none-stable``), and for a vanishing plain sigmoid chain the cap on its factor."""
    advice: list[Advice] = []
    proxy = None
    for act, init, chi in picks:
        if len(advice) == MAX_ADVICE:
            break
        tried = trials.run(act, init)
        proxy = tried.proxy
        if tried.verdict == "stable":
            advice.append(Advice("setting", act, init, spec.gain, chi, trend(chi), tried.verdict,
                                 tried.proxy))
    if picks and not advice:
        advice.append(Advice("none-stable", proxy=proxy))
    if spec.activation == "sigmoid" and spec.arch == "plain" and verdict == "vanishing":
        advice.append(Advice("sigmoid-cap", "sigmoid"))
    return advice


def init_scale(spec: Spec, warnings: list[Notice], verdict: str, trials: Trials) -> list[Notice]:
    """The init-scale warning with what trial runs found: ``where`` names the inits of
    SCALED_INITS whose trial run is judged stable ('' none: another init alone does not mend the
    chain, as under a layer norm, whose output does not depend on the weights' scale), or is
    ``stable`` where the chain is judged stable as it is (nothing to mend, nothing tried)."""
    out = []
    for n in warnings:
        if n.kind == "init-scale":
            where = "stable"
            if verdict != "stable":
                where = ",".join(i for i in SCALED_INITS
                                 if trials.run(spec.activation, i).verdict == "stable")
            n = dataclasses.replace(n, where=where)
        out.append(n)
    return out


def planned_trials(spec: Spec, picks: list[tuple[str, str, float]], warnings: list[Notice],
                   verdict: str) -> int:
    """How many distinct trial runs the advice and the init-scale warning may need."""
    pairs = {(act, init) for act, init, _ in picks}
    if any(n.kind == "init-scale" for n in warnings) and verdict != "stable":
        pairs |= {(spec.activation, init) for init in SCALED_INITS}
    return len(pairs)


def tried_advice(spec: Spec, q_in: float, mean_in: float, verdict: str, warnings: list[Notice],
                 track: Tracker | None = None) -> tuple[list[Advice], list[Notice]]:
    """The advice for a chain judged ``verdict`` (every setting in it tried and judged stable),
    and its warnings with the init-scale one settled by trial runs (``track``: one bar)."""
    picks = candidates(spec, q_in, mean_in, verdict)
    trials = Trials(spec, planned_trials(spec, picks, warnings, verdict), track)
    advice = advise(spec, picks, trials, verdict)
    settled = init_scale(spec, warnings, verdict, trials)
    trials.close()
    return advice, settled
