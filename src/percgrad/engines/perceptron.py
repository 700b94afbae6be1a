"""One run: build, forward, the three backward passes, comparison, timings → a Report."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import torch

from percgrad.engines.perceptron_report import build_report
from percgrad.engines.run_tensors import Run, first_nonfinite, stage
from percgrad.gradcheck.network import NumericResult, fast_gradients, full_gradients
from percgrad.network.net import build_net
from percgrad.network.passes import Gradients, analytic_backward, autograd_backward, forward
from percgrad.reports.run import Report
from percgrad.runtime.device import DTYPES, available_bytes, check_dtype, resolve_device, synchronize
from percgrad.runtime.memory import guard
from percgrad.runtime.progress import Progress, Tracker, part, throttled
from percgrad.spec.run import Spec

T = TypeVar("T")


def _timed(device: torch.device, fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and its wall time, the device synchronised on both sides."""
    synchronize(device)
    start = time.perf_counter()
    value = fn()
    synchronize(device)
    return value, time.perf_counter() - start


PASSES = 5
"""What ``progress`` counts, per layer: drawing it, the forward pass, the hand-derived backward,
autograd's recorded forward and its backward."""


def execute(spec: Spec, track: Tracker | None = None,
            progress: Progress | None = None) -> tuple[Run, dict[str, float]]:
    """Build the network of ``spec`` and run the forward and the three backward passes
    (``progress``: the layers of these, PASSES·depth in all; ``track``: the phases of the check
    after them)."""
    device = resolve_device(spec.device)
    dtype = DTYPES[spec.dtype]
    check_dtype(device, dtype)
    guard(spec, available_bytes(device), spec.max_memory, str(device),
          training=bool(spec.chain and spec.chain.steps))
    depth, total = spec.depth, PASSES * spec.depth
    progress = throttled(progress)
    if progress is not None:
        progress(0, total)
    net = build_net(spec, device, dtype, part(progress, 0, depth, total))
    fwd, t_fwd = _timed(device, lambda: forward(net, part(progress, depth, depth, total)))
    analytic, t_an = _timed(device, lambda: analytic_backward(
        net, fwd, spec.mistake, part(progress, 2 * depth, depth, total)))
    auto_result, t_ag = _timed(device, lambda: autograd_backward(
        net, part(progress, 3 * depth, 2 * depth, total)))
    autograd = auto_result[0]
    method = spec.resolved_check()
    numeric: NumericResult | None = None
    analytic64: Gradients | None = None
    t_num = 0.0
    if method != "off" and first_nonfinite(fwd, [analytic, autograd]) is None:
        step = throttled(stage(track, "float64 recomputation")) if dtype != torch.float64 else None
        if step is not None:
            step(0, 2 * depth)  # the copy in float64 first
        net64 = net.to(device, torch.float64)
        if dtype != torch.float64:
            analytic64 = analytic_backward(net64, forward(net64, part(step, 0, depth, 2 * depth)),
                                           spec.mistake, part(step, depth, depth, 2 * depth))
        compared = [analytic, autograd] + ([analytic64] if analytic64 is not None else [])
        if method == "full":
            numeric, t_num = _timed(device, lambda: full_gradients(
                net64, progress=stage(track, "finite differences")))
        else:
            numeric, t_num = _timed(device, lambda: fast_gradients(
                net64, compared, seed=spec.seed, progress=stage(track, "random-direction check")))
        del net64
    timing = {"forward_s": t_fwd, "analytic_s": t_an, "autograd_s": t_ag, "numeric_s": t_num}
    run = Run(spec, net, fwd, analytic, autograd, numeric, device, analytic64)
    return run, timing


def run(spec: Spec, track: Tracker | None = None) -> Report:
    """One run of ``spec`` from start to report (``track``: progress bars per phase)."""
    result, timing = execute(spec, track)
    return build_report(result, timing, track)


__all__ = ["Run", "Tracker", "build_report", "execute", "run"]
