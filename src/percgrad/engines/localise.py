"""Localising a failed check of a user's model: each module on its own recorded input (float64
copy), to name the first whose own backward disagrees with its own finite differences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from percgrad.engines.hooks import containers, hooked, label, leaves
from percgrad.engines.model_check import check_module
from percgrad.engines.user_data import split_inputs
from percgrad.reports.user import GradCheck, Localisation, ModuleStats


def localise(m64: nn.Module, args64: Sequence[Any], tol: float, seed: int,
             stats: list[ModuleStats]) -> Localisation:
    """Each leaf module on its own recorded input, in forward order; the first that fails is
    named. When every leaf passes, the containers, deepest first: the first that fails holds
    the mistake in its own code."""
    with torch.no_grad(), hooked(m64, record_inputs=True, everything=True) as records:
        pos, kw = split_inputs(args64)
        m64(*pos, **kw)
    by_label = {s.name: s for s in stats}
    checked: list[str] = []
    first: tuple[str, str, GradCheck] | None = None
    leaf_names = {n for n, _ in leaves(m64)}
    order = sorted((r for r in records.values() if r.name in leaf_names), key=lambda r: r.order)
    for i, rec in enumerate(order):
        assert rec.args is not None
        result = check_module(rec.module, rec.args, rec.kwargs, tol, seed, 100 * (i + 1), rec.name)
        if result is None:
            continue
        checked.append(label(rec.name))
        if label(rec.name) in by_label:
            by_label[label(rec.name)].local = result
        if result.passed is False and first is None:
            first = (label(rec.name), type(rec.module).__name__, result)
    if first is not None:
        return Localisation(first[0], first[1], first[2], checked)
    for j, (name, module) in enumerate(containers(m64)):
        found = records.get(name)
        if found is None or found.args is None:
            continue
        result = check_module(module, found.args, found.kwargs, tol, seed, 10_000 + j, name)
        if result is None:
            continue
        checked.append(label(name))
        if result.passed is False:
            return Localisation(label(name), type(module).__name__, result, checked, container=True)
    return Localisation(None, None, None, checked)
