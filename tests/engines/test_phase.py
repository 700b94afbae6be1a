"""percgrad phase at engine level (engines/phase.py): the size guard, the stack (the same
networks as vanish's), the batched backward against autograd, measured against predicted χ₁,
the correlation and the critical lines, and training."""

from __future__ import annotations

import io
import math
import statistics

import pytest
import torch
from rich.console import Console

from percgrad.engines import phase as engine
from percgrad.errors import PercgradError
from percgrad.network import stack as batched
from percgrad.network.functions import activation
from percgrad.network.net import build_net
from percgrad.reports.phase import PhaseReport
from percgrad.spec.build import chain_spec
from percgrad.spec.phase import phase_spec
from percgrad.views.phase import phase as render

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tanh_wide() -> PhaseReport:
    """A tanh sweep at width 256 (the ±15% claim)."""
    spec = phase_spec(activation="tanh", sigma_w2="0.5:4:0.5", sigma_b2="0,0.1,0.3", depth=30,
                      width=256, batch=8, device="cpu")
    return engine.run_phase(spec)


@pytest.fixture(scope="module")
def small() -> PhaseReport:
    spec = phase_spec(activation="tanh", sigma_w2="0.5:3:0.5", sigma_b2="0,0.2", depth=12,
                      width=32, batch=4, device="cpu")
    return engine.run_phase(spec)


def test_size_guard_covers_the_whole_stack() -> None:
    spec = phase_spec(width=1024, depth=200, max_memory="1G")
    est = engine.estimate(spec)
    assert est["weights"] == spec.points * spec.depth * (1024 * 1024 + 1024) * 4
    with pytest.raises(PercgradError, match="105 networks"):
        engine.guard(spec, CPU)


@pytest.mark.parametrize("point", [(1.5, 0.0), (2.5, 0.2)])
def test_every_point_is_the_vanish_network_of_its_sigmas(point: tuple[float, float]) -> None:
    w, b = point
    spec = phase_spec(sigma_w2="1.5,2.5", sigma_b2="0,0.2", depth=5, width=16, batch=3, seed=7)
    stack = engine.draw_stack(spec, CPU, torch.float64)
    index = engine.grid_points(spec).index(point)
    net = build_net(chain_spec(depth=5, width=16, batch=3, seed=7, activation="tanh",
                               sigma_w2=w, sigma_b2=b), CPU, torch.float64)
    assert torch.equal(stack.x, net.x)
    for k, layer in enumerate(net.layers):
        assert torch.allclose(stack.weights[k][index], layer.weight, rtol=1e-15, atol=0)
        bias = torch.zeros(16, dtype=torch.float64) if layer.bias is None else layer.bias
        got = torch.zeros(16, dtype=torch.float64) if stack.biases is None else stack.biases[k][index]
        assert torch.allclose(got, bias, rtol=1e-15, atol=0)


def test_batched_backward_matches_autograd(small: PhaseReport) -> None:
    assert small.check.passed is True
    assert small.check.max_rel_error is not None and small.check.max_rel_error < 1e-5
    assert not small.failed


def test_a_wrong_derivative_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from percgrad.network import functions

    bad = dataclasses.replace(functions.ACTIVATIONS["tanh"], chain=lambda g, a, h: g.mul_(1.0 - h))
    monkeypatch.setitem(functions.ACTIVATIONS, "tanh", bad)
    spec = phase_spec(sigma_w2="1,2", sigma_b2="0.1", depth=6, width=16, batch=2, device="cpu")
    report = engine.run_phase(spec)
    assert report.check.passed is False and report.failed


# ---------------------------------------------------------------- measured against predicted


def test_measured_chi1_within_15_percent_at_width_256(tanh_wide: PhaseReport) -> None:
    ratios = [p.ratio for p in tanh_wide.points if p.ratio is not None]
    assert len(ratios) == len(tanh_wide.points)
    assert abs(statistics.median(ratios) - 1) <= 0.15
    assert tanh_wide.median_ratio == pytest.approx(statistics.median(ratios))
    # Most points individually, not only the median.
    assert sum(abs(r - 1) <= 0.15 for r in ratios) >= 0.8 * len(ratios)


def test_measured_correlation_goes_to_one_when_ordered(tanh_wide: PhaseReport) -> None:
    ordered = [p for p in tanh_wide.points if p.sigma_b2 > 0 and p.chi1 < 0.8]
    assert ordered and all(p.c_star == 1.0 for p in ordered)
    assert all(p.measured_c is not None and p.measured_c > 0.99 for p in ordered)
    chaotic = [p for p in tanh_wide.points if p.c_star is not None and p.c_star < 0.9]
    assert chaotic and all(abs((p.measured_c or 0) - (p.predicted_c or 0)) < 0.15 for p in chaotic)


def test_default_critical_lines_agree_within_one_step() -> None:
    # Rows of the default sweep (seed 0, depth 100, width 128): with every point drawn from the
    # same seed, these networks are the default run's.
    spec = phase_spec(activation="tanh", sigma_w2="0.75:3:0.25", sigma_b2="0,0.05,0.3", device="cpu")
    report = engine.run_phase(spec)
    assert [c.agrees for c in report.critical] == [True, True, True]
    assert report.critical[0].predicted == pytest.approx(1.0, abs=1e-6)


def test_crossing_interpolates_in_log_factor() -> None:
    assert engine.measured_crossing([1.0, 2.0, 3.0], [0.5, 0.8, 1.25]) == pytest.approx(
        2.0 + math.log(1 / 0.8) / math.log(1.25 / 0.8))
    assert engine.measured_crossing([1.0, 2.0], [1.1, 1.2]) is None
    assert engine.grid_step([1.0, 1.5, 3.0], 2.0) == 1.5
    assert engine.grid_step([1.0, 1.5], 4.0) is None


def _text(report: PhaseReport, width: int, color: bool = False) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, highlight=False,
                      force_terminal=color, color_system="truecolor" if color else None)
    for part in render(report):
        console.print(part)
    return console.export_text()


# ---------------------------------------------------------------- training


def test_training_gradients_match_autograd() -> None:
    spec = phase_spec(sigma_w2="1,2", sigma_b2="0.1", depth=5, width=12, device="cpu",
                      dtype="float64", train_steps=1)
    stack = engine.draw_stack(spec, CPU, torch.float64)
    act = activation("tanh")
    x, t, _, _, r = engine._task(spec, CPU, torch.float64)
    rows = x.expand(2, *x.shape).contiguous()
    leaves = [w.clone().requires_grad_(True) for w in stack.weights]
    _, post = batched.forward(leaves, stack.biases, rows, act)
    ((post[-1] @ r - t).square().mean(-1)).sum().backward()
    grads = engine.train_step([w.clone() for w in stack.weights],
                              [b.clone() for b in stack.biases or []], rows, t, r, act, 0.1)
    for g, leaf in zip(grads, leaves):
        assert leaf.grad is not None
        assert torch.allclose(g, leaf.grad, rtol=1e-10, atol=1e-14)


def test_training_marks_every_point() -> None:
    spec = phase_spec(sigma_w2="0.5,1.5,4", sigma_b2="0.1", depth=6, width=32, device="cpu",
                      train_steps=30)
    report = engine.run_phase(spec)
    assert report.training is not None and report.training.steps == 30
    for p in report.points:
        assert p.trained in (True, False) and p.predicted_trainable in (True, False)
        assert p.loss_start is not None
    assert report.training.agreement is not None
    assert "Training: 30 steps" in _text(report, 80)
