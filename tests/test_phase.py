"""percgrad phase: the grid, the stack (the same networks as vanish's), the batched backward
against autograd, measured against predicted χ₁ and the critical lines, the JSON, the CLI's
errors, the heatmap at several widths, the plot and training."""

from __future__ import annotations

import io
import json
import math
import re
import statistics
from pathlib import Path

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from percgrad.cli.app import app
from percgrad.engines import phase as engine
from percgrad.errors import PercgradError
from percgrad.network import stack as batched
from percgrad.network.functions import activation
from percgrad.network.net import build_net
from percgrad.reports.phase import PhaseReport
from percgrad.spec.build import chain_spec
from percgrad.spec.phase import parse_grid, phase_spec
from percgrad.views.phase import phase as render

runner = CliRunner()
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


# ---------------------------------------------------------------- the grid and the request


def test_grid_includes_stop_and_sorts_lists() -> None:
    assert parse_grid("0.5:4:0.25", "--sigma-w2", 0.0, True) == tuple(0.5 + 0.25 * i for i in range(15))
    assert parse_grid("2, 1,1.5,1", "--sigma-w2", 0.0, True) == (1.0, 1.5, 2.0)
    assert parse_grid("0:0.3:0.05", "--sigma-b2", 0.0, False)[-1] == pytest.approx(0.3)


@pytest.mark.parametrize(("text", "option", "needle"), [
    ("0.5:4", "--sigma-w2", "start:stop:step"),
    ("1:0.5:0.1", "--sigma-w2", "stop is below start"),
    ("0:1:0", "--sigma-w2", "step must be positive"),
    ("0,1", "--sigma-w2", "must be > 0"),
    ("-0.1,0.2", "--sigma-b2", "must be ≥ 0"),
    ("a,1", "--sigma-w2", "not a number"),
    ("nan", "--sigma-b2", "not a finite number"),
])
def test_grid_errors_name_the_option(text: str, option: str, needle: str) -> None:
    with pytest.raises(PercgradError) as err:
        phase_spec(**{option[2:].replace("-", "_"): text})
    assert err.value.option == option and needle in err.value.message


@pytest.mark.parametrize(("kw", "option"), [
    ({"depth": 3}, "--depth"), ({"width": 1}, "--width"), ({"batch": 0}, "--batch"),
    ({"dtype": "float16"}, "--dtype"), ({"device": "tpu"}, "--device"), ({"lr": -1.0}, "--lr"),
    ({"train_steps": -2}, "--train-steps"), ({"activation": "tanhh"}, "--activation"),
    ({"sigma_w2": "0.001:100:0.001", "sigma_b2": "0:1:0.5"}, "--sigma-w2"),
])
def test_request_errors(kw: dict, option: str) -> None:
    with pytest.raises(PercgradError) as err:
        phase_spec(**kw)
    assert err.value.option == option


def test_train_steps_bring_a_smaller_grid_and_depth() -> None:
    plain, train = phase_spec(), phase_spec(train_steps=10)
    assert plain.points == 105 and plain.depth == 100
    assert train.points < plain.points and train.depth == 20
    assert train.lr == pytest.approx(0.6 / 20)


def test_size_guard_covers_the_whole_stack() -> None:
    spec = phase_spec(width=1024, depth=200, max_memory="1G")
    est = engine.estimate(spec)
    assert est["weights"] == spec.points * spec.depth * (1024 * 1024 + 1024) * 4
    with pytest.raises(PercgradError, match="105 networks"):
        engine.guard(spec, CPU)


# ---------------------------------------------------------------- the stack


def test_meanfield_init_has_the_asked_variances() -> None:
    spec = chain_spec(depth=3, width=400, init="meanfield", sigma_w2=2.5, sigma_b2=0.3,
                      activation="tanh")
    net = build_net(spec)
    for layer in net.layers:
        assert float(layer.weight.var()) * 400 == pytest.approx(2.5, rel=0.02)
        assert layer.bias is not None and float(layer.bias.var()) == pytest.approx(0.3, rel=0.25)


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


def test_normalised_log_norms_equal_the_plain_backward() -> None:
    spec = phase_spec(sigma_w2="0.7,3", sigma_b2="0.1", depth=8, width=24, batch=3, device="cpu")
    stack = engine.draw_stack(spec, CPU, torch.float64)
    act = activation("tanh")
    rows = stack.x.expand(2, *stack.x.shape).contiguous()
    pre, post = batched.forward(stack.weights, stack.biases, rows, act)
    logs, _ = batched.backward(stack.weights, pre, post, act, True, stack.readout)
    _, deltas = batched.backward(stack.weights, pre, post, act, False, stack.readout)
    plain = torch.stack([d.square().sum(dim=(1, 2)).log() for d in deltas])
    assert torch.allclose(logs, plain, rtol=1e-12, atol=1e-12)


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


def test_agreement_of_the_lines() -> None:
    from percgrad.reports.phase import CriticalPoint

    assert CriticalPoint(0.1, 2.0, 2.2, 0.25).agrees is True
    assert CriticalPoint(0.1, 2.0, 2.3, 0.25).agrees is False
    assert CriticalPoint(0.1, 2.0, None, 0.25).agrees is False  # predicted inside, no crossing
    assert CriticalPoint(0.1, 9.0, 2.3, None).agrees is False  # crossing, predicted outside
    assert CriticalPoint(0.1, 9.0, None, None).agrees is None


def test_crossing_interpolates_in_log_factor() -> None:
    assert engine.measured_crossing([1.0, 2.0, 3.0], [0.5, 0.8, 1.25]) == pytest.approx(
        2.0 + math.log(1 / 0.8) / math.log(1.25 / 0.8))
    assert engine.measured_crossing([1.0, 2.0], [1.1, 1.2]) is None
    assert engine.grid_step([1.0, 1.5, 3.0], 2.0) == 1.5
    assert engine.grid_step([1.0, 1.5], 4.0) is None


# ---------------------------------------------------------------- JSON, CLI, rendering, plot


def test_json_carries_every_grid_point() -> None:
    result = runner.invoke(app, ["phase", "--sigma-w2", "0.5,1.5,3", "--sigma-b2", "0:0.2:0.1",
                                 "--depth", "8", "--width", "16", "--batch", "2", "--device", "cpu",
                                 "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["command"] == "phase" and doc["grid"]["sigma_w2"] == [0.5, 1.5, 3.0]
    assert len(doc["points"]) == 9
    assert [(p["sigma_w2"], p["sigma_b2"]) for p in doc["points"]] == [
        (w, b) for b in (0.0, 0.1, 0.2) for w in (0.5, 1.5, 3.0)]
    for p in doc["points"]:
        for key in ("q_star", "chi1", "xi", "c_star", "measured_factor", "measured_xi",
                    "measured_c", "predicted_factor", "layer_factors"):
            assert key in p
        assert len(p["layer_factors"]) == 7
    assert len(doc["critical"]) == 3 and doc["check"]["passed"] is True
    assert all(v is None for v in doc["timing"].values())


@pytest.mark.parametrize(("args", "needle"), [
    (["--sigma-w2", "0.5:4"], "Error: --sigma-w2: '0.5:4' is not start:stop:step"),
    (["--depth", "2"], "Error: --depth: got 2; expected a whole number from 4"),
    (["--max-memory", "1M"], "but --max-memory is 1 MB"),
    (["--activation", "sigmoyd"], "Error: --activation:"),
    (["--sigma-b2", "-1"], "Error: --sigma-b2:"),
])
def test_cli_errors_exit_2_without_traceback(args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["phase", *args, "--width", "16", "--device", "cpu"])
    assert result.exit_code == 2
    assert needle in result.stderr and "Traceback" not in result.output


def _text(report: PhaseReport, width: int, color: bool = False) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, highlight=False,
                      force_terminal=color, color_system="truecolor" if color else None)
    for part in render(report):
        console.print(part)
    return console.export_text()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_heatmap_fits_and_cuts_no_number(tanh_wide: PhaseReport, width: int) -> None:
    text = _text(tanh_wide, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert not any(re.search(r"…\s*[│╮╯]?\s*$", line) for line in lines)  # Rich's ellipsis
    rows = [line for line in lines if re.match(r"^\s*[\d.]+ │", line)]
    assert len(rows) == 3  # one per σ_b²
    for label in ("0.5", "1.5", "2.5", "3.5", "σ_w²", "σ_b²"):
        assert label in text
    assert any(mark in text for mark in ("║", "┆"))


def test_heatmap_cells_show_the_measured_change(tanh_wide: PhaseReport) -> None:
    text = _text(tanh_wide, 80)
    p = tanh_wide.point(0, 0)  # σ_b² = 0, σ_w² = 0.5: ordered, ‖δ‖² shrinks
    assert p.measured_factor is not None
    assert str(round(100 * (p.measured_factor - 1))) in text
    assert "change of ‖δ‖² per layer in %" in text


def test_plot_is_a_png(small: PhaseReport, tmp_path: Path) -> None:
    from percgrad.views.plots.phase import save_phase_plot

    path = tmp_path / "phase.png"
    save_phase_plot(small, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
