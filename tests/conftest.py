"""Shared fixtures: a stable terminal width, a relative-error helper, the three backward
passes of a spec, a deliberately wrong sigmoid derivative, and the inspection reports of three
examples (module-scoped: built once per test module that asks), and a clock for progress
tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

import percgrad
from percgrad.network import functions
from percgrad.network.functions import Activation, Loss
from percgrad.network.net import Net, build_net
from percgrad.network.passes import Forward, Gradients, analytic_backward, autograd_backward, forward
from percgrad.runtime import progress as runtime_progress
from percgrad.runtime.progress import INTERVAL_S
from percgrad.spec.run import Spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that moves INTERVAL_S between two reads: every count a ticker sees is reported
    (runtime/progress.py), so progress tests do not depend on timing."""
    now = [0.0]

    def clock() -> float:
        now[0] += INTERVAL_S
        return now[0]

    monkeypatch.setattr(runtime_progress, "perf_counter", clock)


@pytest.fixture(autouse=True)
def _stable_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fixed, wide terminal (Rich reads COLUMNS) keeps output stable and unwrapped; one torch
    thread keeps BLAS from spin-waiting on a small machine shared with other jobs."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("PERCGRAD_DEBUG", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max|a−b| / max(max|a|, max|b|, 1e-300), in float64."""
    a64 = a.detach().to("cpu", torch.float64)
    b64 = b.detach().to("cpu", torch.float64)
    assert a64.shape == b64.shape, (a64.shape, b64.shape)
    if a64.numel() == 0:
        return 0.0
    diff = float((a64 - b64).abs().max())
    scale = max(float(a64.abs().max()), float(b64.abs().max()), 1e-300)
    return diff / scale


@pytest.fixture
def rel_err() -> Callable[[torch.Tensor, torch.Tensor], float]:
    return relative_error


class Passes(NamedTuple):
    """One spec's network and its forward, analytic and autograd passes."""

    spec: Spec
    net: Net
    act: Activation
    loss: Loss
    fwd: Forward
    analytic: Gradients
    autograd: Gradients
    autograd_loss: torch.Tensor


def run_passes(spec: Spec, device: str = "cpu", dtype: torch.dtype = torch.float64) -> Passes:
    """build_net → forward → analytic_backward and autograd_backward."""
    net = build_net(spec, device, dtype)
    fwd = forward(net)
    analytic = analytic_backward(net, fwd)
    autograd, e = autograd_backward(net)
    return Passes(spec, net, net.layers[-1].act, net.loss, fwd, analytic, autograd, e)


@pytest.fixture
def passes() -> Callable[..., Passes]:
    return run_passes


def wrong_sigmoid_derivative(a: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Twice σ′: every analytic gradient through a sigmoid comes out doubled."""
    return 2.0 * h * (1.0 - h)


@pytest.fixture
def wrong_sigmoid(monkeypatch: pytest.MonkeyPatch) -> Activation:
    """Replace sigmoid's hand-written derivative (its value, used by autograd and the finite
    differences, stays right). functions.activation() reads the dict at call time."""
    bad = dataclasses.replace(
        functions.ACTIVATIONS["sigmoid"], derivative=wrong_sigmoid_derivative, chain=None
    )
    monkeypatch.setitem(functions.ACTIVATIONS, "sigmoid", bad)
    return bad


@pytest.fixture(scope="module")
def broken() -> percgrad.reports.user.InspectReport:  # type: ignore[name-defined]
    torch.set_num_threads(1)
    return percgrad.inspect(f"{EXAMPLES / 'broken_backward.py'}:build", input_shape="8,16")




@pytest.fixture(scope="module")
def deep() -> object:
    torch.set_num_threads(1)
    return percgrad.inspect(f"{EXAMPLES / 'deep_sigmoid.py'}:build", input_shape="32,64")




@pytest.fixture(scope="module")
def nan_report() -> object:
    return percgrad.inspect(f"{EXAMPLES / 'nan_layer.py'}:build", input_shape="8,16")
