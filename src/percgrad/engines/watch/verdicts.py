"""Verdicts over a training run, from its tracks: the flow by the rule of ``vanish``/``inspect``
(theory.flow, the robust trend over the weight layers in forward order) at every watched step,
ReLU layers dying, update ratios far from ~1e-3, and the first non-finite value."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from percgrad.reports.watch import (
    DEAD_JUMP,
    DEAD_SHARE,
    UPDATE_HIGH,
    UPDATE_LOW,
    ActivationTrack,
    ModuleTrack,
    NonFinite,
    WatchVerdict,
)
from percgrad.theory.flow import EXPLODING_SHARE, VANISHING_SHARE, judge, trend_share

FLOW_RUN = 3
"""Watched steps in a row the flow must be vanishing (or exploding) to be a verdict."""
UPDATE_RUN = 3
"""Watched steps in a row a ratio must stay past its threshold to be a verdict."""


def _flow_at(layers: Sequence[ModuleTrack], k: int) -> tuple[str | None, WatchVerdict | None]:
    """The flow's kind at watched step ``k`` (vanishing, exploding or None) and its evidence."""
    # the layers with a gradient this step (frozen and unused ones have none)
    got = [(m, m.grad_norm[k]) for m in layers if k < len(m.grad_norm)
           and m.grad_norm[k] is not None]
    here = [m for m, _ in got]
    norms = [float(g) for _, g in got if g is not None]
    if len(norms) < 2 or not all(math.isfinite(n) for n in norms):
        return None, None
    verdict = judge(norms, [False] * len(norms), None, robust=True)
    if verdict.kind not in ("vanishing", "exploding"):
        return None, None
    line = trend_share(norms)
    last = line.fitted[-1] if line.fitted else 1.0
    concerned = [m.name for m, g in zip(here[:-1], line.fitted[:-1])
                 if (g / last < VANISHING_SHARE if verdict.kind == "vanishing"
                     else g / last > EXPLODING_SHARE)]
    return verdict.kind, WatchVerdict(verdict.kind, 0, concerned, line.share,
                                      threshold=VANISHING_SHARE if verdict.kind == "vanishing"
                                      else EXPLODING_SHARE)


def flow_verdicts(modules: Sequence[ModuleTrack], steps: Sequence[int]) -> list[WatchVerdict]:
    """Each stretch of watched steps where the flow is vanishing or exploding (the robust trend
    over the weight layers with a gradient) for FLOW_RUN steps in a row or more (all of them when
    fewer were watched), so that a share hovering at its threshold does not flicker: its first
    step, the layers concerned there, and its last step when it ended before the run did."""
    layers = [m for m in modules if m.weight_layer]
    need = max(1, min(FLOW_RUN, len(steps)))
    at = [_flow_at(layers, k) for k in range(len(steps))]
    out: list[WatchVerdict] = []
    k = 0
    while k < len(steps):
        kind, evidence = at[k]
        end = k
        while end + 1 < len(steps) and at[end + 1][0] == kind:
            end += 1
        if kind is not None and evidence is not None and end - k + 1 >= need:
            evidence.step = steps[k]
            evidence.through = steps[end] if end + 1 < len(steps) else None
            out.append(evidence)
        k = end + 1
    return out


def dead_verdicts(activations: Sequence[ActivationTrack],
                  steps: Sequence[int]) -> list[WatchVerdict]:
    """Per ReLU layer, the first watched step where its dead share reaches DEAD_SHARE and has
    grown by DEAD_JUMP since the first watched step."""
    out = []
    for a in activations:
        if a.kind != "dead" or not a.share:
            continue
        first = next((s for s in a.share if s is not None), None)
        if first is None:
            continue
        for k, s in enumerate(a.share):
            if s is not None and s >= DEAD_SHARE and s - first >= DEAD_JUMP:
                out.append(WatchVerdict("dead", steps[k], [a.name], s, before=first,
                                        threshold=DEAD_SHARE))
                break
    return out


def update_verdicts(modules: Sequence[ModuleTrack], steps: Sequence[int]) -> list[WatchVerdict]:
    """Per module, the first watched step where its update ratio stays past UPDATE_HIGH or
    UPDATE_LOW for UPDATE_RUN watched steps in a row (all of them when fewer were watched); the
    modules that cross at the same step make one verdict, with their median ratio."""
    need = max(1, min(UPDATE_RUN, len(steps)))
    groups: dict[tuple[str, int, str | None], list[tuple[str, float]]] = {}
    for kind, past in (("update-high", lambda r: r > UPDATE_HIGH),
                       ("update-low", lambda r: r < UPDATE_LOW)):
        for m in modules:
            run = 0
            for k, r in enumerate(m.update_ratio):
                run = run + 1 if r is not None and math.isfinite(r) and past(r) else 0
                if run == need:
                    start = k - need + 1
                    window = [x for x in m.update_ratio[start:k + 1] if x is not None]
                    cause = _low_cause(m, start, k) if kind == "update-low" else None
                    groups.setdefault((kind, steps[start], cause), []).append(
                        (m.name, statistics.median(window)))
                    break
    return [WatchVerdict(kind, step, [n for n, _ in hits], statistics.median(r for _, r in hits),
                         threshold=UPDATE_HIGH if kind == "update-high" else UPDATE_LOW,
                         cause=cause)
            for (kind, step, cause), hits in groups.items()]


SMALL_GRADIENT = 1e-6
"""A gradient below this share of its first recorded value is what keeps the update small."""


def _low_cause(m: ModuleTrack, start: int, end: int) -> str | None:
    """Why a module's updates are tiny from ``start`` to ``end``: no gradient at all, a
    gradient collapsed far below where it started, or (None) the learning rate."""
    window = [g for g in m.grad_norm[start:end + 1]]
    if all(g is None or g == 0.0 for g in window):
        return "no-gradient"
    first = next((g for g in m.grad_norm if g is not None and g > 0), None)
    if first is not None and all(g is not None and g < SMALL_GRADIENT * first for g in window):
        return "small-gradient"
    return None


def verdicts(modules: Sequence[ModuleTrack], activations: Sequence[ActivationTrack],
             steps: Sequence[int], nonfinite: NonFinite | None) -> list[WatchVerdict]:
    """Every verdict of the run, in the order of the step where it first holds."""
    found = (flow_verdicts(modules, steps) + dead_verdicts(activations, steps)
             + update_verdicts(modules, steps))
    if nonfinite is not None:
        found.append(WatchVerdict("non-finite", nonfinite.step,
                                  [nonfinite.module] if nonfinite.module else []))
    return sorted(found, key=lambda v: v.step)
