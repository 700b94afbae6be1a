"""The tensors of one run (engines/run_tensors.py): where values first turn non-finite, and the
progress of each phase."""

from __future__ import annotations

import dataclasses

import torch

from percgrad.engines.perceptron import execute
from percgrad.engines.run_tensors import Run, first_nonfinite, stage
from percgrad.spec.run import Spec


def test_a_finite_run_has_no_culprit_and_an_overflow_is_named() -> None:
    run, _ = execute(Spec("multi", (3, 4, 2), device="cpu", dtype="float64"))
    assert isinstance(run, Run) and run.act.name == "sigmoid"
    assert first_nonfinite(run.fwd, [run.analytic, run.autograd]) is None
    traces = list(run.fwd.traces)
    bad = traces[1].a.clone()
    bad[0, 0] = float("inf")
    traces[1] = dataclasses.replace(traces[1], a=bad)
    fwd = dataclasses.replace(run.fwd, traces=traces)
    assert first_nonfinite(fwd, [run.analytic]) == "layer 2 pre-activation a2"
    grads = dataclasses.replace(run.analytic)
    grads.deltas[0][0, 0] = float("nan")
    assert first_nonfinite(run.fwd, [grads]) == "layer 1 back-propagated gradient δ1"


def test_stage_hands_out_the_trackers_progress() -> None:
    seen: list[tuple[str, int, int]] = []
    progress = stage(lambda label: lambda d, t: seen.append((label, d, t)), "forward")
    assert progress is not None
    progress(1, 2)
    assert seen == [("forward", 1, 2)]
    assert stage(None, "forward") is None
    assert torch.is_tensor(torch.zeros(1))
