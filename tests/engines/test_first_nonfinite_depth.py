"""Where values first turn non-finite (engines/run_tensors.py), found in time linear in the
depth: one isfinite call over many layers at once, and the culprit named exactly as a layer by
layer search names it (issue 20, item 3: depth 20,000 took 62 s, four times depth 10,000)."""

from __future__ import annotations

import time

import torch

from percgrad.engines.run_tensors import first_nonfinite
from percgrad.network.net import build_net
from percgrad.network.passes import analytic_backward, autograd_backward, forward
from percgrad.spec.run import Spec


def _passes(depth: int, width: int = 1):
    spec = Spec("vanish", (width,) * (depth + 1), device="cpu", check="off", keep_tensors=False)
    net = build_net(spec, torch.device("cpu"), torch.float32)
    fwd = forward(net)
    return net, fwd, [analytic_backward(net, fwd), autograd_backward(net)[0]]


def test_a_finite_run_is_found_finite_and_a_planted_value_is_named() -> None:
    _net, fwd, grads = _passes(50, 3)
    assert first_nonfinite(fwd, grads) is None
    fwd.traces[20].out[0, 1] = float("nan")
    assert first_nonfinite(fwd, grads) == "layer 21 output h21"
    fwd.traces[20].out[0, 1] = 0.0
    grads[1].deltas[7][0, 0] = float("inf")
    assert first_nonfinite(fwd, grads) == "layer 8 back-propagated gradient δ8"


def test_the_search_is_linear_in_depth() -> None:
    def seconds(depth: int) -> float:
        _, fwd, grads = _passes(depth)
        start = time.perf_counter()
        assert first_nonfinite(fwd, grads) is None
        return time.perf_counter() - start

    seconds(200)  # warm up
    shallow, deep = min(seconds(2000) for _ in range(3)), min(seconds(8000) for _ in range(3))
    # four times as deep: ~4× when linear, ~16× when quadratic (the old per-layer list rebuild)
    assert deep < 8 * shallow + 0.05, (shallow, deep)
