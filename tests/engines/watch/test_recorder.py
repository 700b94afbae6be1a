"""The recorder of ``percgrad watch`` (engines/watch/recorder.py): every parameter once, the
norms it records against the optimizer's own arithmetic, every N-th step, the loss, the dead
share, hooks removed on close, and a loop without a torch optimizer."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import percgrad


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 2))


def _train(model: nn.Module, steps: int, lr: float = 0.1, every: int = 1) -> tuple[object, list[float]]:
    x, y = torch.randn(32, 6, generator=torch.Generator().manual_seed(1)), torch.zeros(32, 2)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    with percgrad.watch(model, every=every) as w:
        for _ in range(steps):
            loss = ((model(x) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return w.report(), losses


def test_every_parameter_is_in_one_track_and_sgd_moves_it_by_lr_times_its_gradient() -> None:
    model = _mlp()
    report, losses = _train(model, 5, lr=0.1)
    assert report.steps == [0, 1, 2, 3, 4] and report.total_steps == 5
    assert sum(m.params for m in report.modules) == sum(p.numel() for p in model.parameters())
    assert [m.name for m in report.modules] == ["0", "2", "4"]
    assert report.loss == pytest.approx(losses, rel=1e-6)
    for m in report.modules:
        for g, w, u in zip(m.grad_norm, m.weight_norm, m.update_ratio):
            assert g is not None and w is not None and u is not None
            # plain SGD: ΔW = −lr·∂E/∂W, so ‖ΔW‖/‖W‖ = lr·‖∂E/∂W‖/‖W‖
            assert u * w == pytest.approx(0.1 * g, rel=1e-4)


def test_every_n_th_step_is_recorded() -> None:
    report, _ = _train(_mlp(), 7, every=3)
    assert report.steps == [0, 3, 6] and report.total_steps == 7
    assert all(len(m.grad_norm) == 3 for m in report.modules)


def test_a_relu_that_is_zero_everywhere_is_all_dead() -> None:
    model = _mlp()
    with torch.no_grad():
        model[0].bias.fill_(-100.0)
    report, _ = _train(model, 2)
    dead = next(a for a in report.activations if a.name == "1")
    assert dead.kind == "dead" and dead.share == [1.0, 1.0]
    tanh = next(a for a in report.activations if a.name == "3")
    assert tanh.kind == "saturated" and all(s is not None and 0 <= s <= 1 for s in tanh.share)


def test_tied_and_frozen_parameters() -> None:
    torch.manual_seed(0)
    emb = nn.Embedding(10, 8)
    head = nn.Linear(8, 10, bias=False)
    head.weight = emb.weight  # tied
    body = nn.Linear(8, 8)
    body.requires_grad_(False)
    model = nn.ModuleDict({"emb": emb, "body": body, "head": head})
    x = torch.randint(0, 10, (16,))
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with percgrad.watch(model) as w:
        for _ in range(3):
            loss = model["head"](model["body"](model["emb"](x))).logsumexp(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    report = w.report()
    assert sum(m.params for m in report.modules) == 80 + 72  # the tied weight once
    rows = {m.name: m for m in report.modules}
    assert "head" not in rows and rows["body"].grad_norm == [None, None, None]
    assert not rows["body"].weight_layer and rows["emb"].weight_layer


def test_close_removes_every_hook_and_backward_is_torchs_again() -> None:
    model = _mlp()
    original = torch.Tensor.backward
    w = percgrad.watch(model)
    assert torch.Tensor.backward is not original
    w.close()
    assert torch.Tensor.backward is original
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_a_loop_without_a_torch_optimizer_steps_by_hand() -> None:
    model = _mlp()
    x = torch.randn(8, 6)
    with percgrad.watch(model) as w:
        for _ in range(3):
            model.zero_grad()
            model(x).square().mean().backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.01 * p.grad
            w.step_done()
    report = w.report()
    assert report.steps == [0, 1, 2]
    assert all(g is not None and math.isfinite(g) for m in report.modules for g in m.grad_norm)
    # no optimizer step between the two hooks: no update ratio (it needs a torch optimizer)
    assert all(u is None for m in report.modules for u in m.update_ratio)


def test_the_api_refuses_what_is_not_a_module() -> None:
    with pytest.raises(percgrad.PercgradError, match=r"nn\.Module"):
        percgrad.watch("model.py")
    with pytest.raises(percgrad.PercgradError, match="--every"):
        percgrad.watch(_mlp(), every=0)


def test_a_vanishing_gradient_is_measured_not_rounded_to_zero() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
    with torch.no_grad():
        model[1].weight.mul_(1e-25)  # ∂E/∂W of the first layer ~1e-25: its square underflows
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with percgrad.watch(model) as w:
        loss = model(torch.randn(4, 3)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    first = w.report().modules[0]
    expected = float(model[0].weight.grad.double().square().sum().add(
        model[0].bias.grad.double().square().sum()).sqrt())
    assert first.grad_norm[0] == pytest.approx(expected, rel=1e-5) and expected > 0
    assert first.update_ratio == [0.0]  # lr·1e-25 does not move a float32 weight


def test_a_long_run_without_every_keeps_a_bounded_evenly_spaced_record(monkeypatch) -> None:
    from percgrad.engines.watch import recorder

    monkeypatch.setattr(recorder, "KEPT", 8)
    report, losses = _train(_mlp(), 40, every=None)  # type: ignore[arg-type]
    assert report.total_steps == 40
    assert 4 <= len(report.steps) < 8  # thinned, never more than KEPT
    gap = report.steps[1] - report.steps[0]
    assert gap > 1 and all(b - a == gap for a, b in zip(report.steps, report.steps[1:]))
    assert report.loss == pytest.approx([losses[s] for s in report.steps], rel=1e-6)
    assert all(len(m.grad_norm) == len(report.steps) for m in report.modules)
    assert report.notes and f"every {gap}th" in report.notes[0]
    fixed, _ = _train(_mlp(), 40, every=1)
    assert len(fixed.steps) == 40 and not fixed.notes  # an --every the user gave is kept


def test_a_loss_made_non_finite_outside_the_model_names_every_branch_of_its_chain() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with percgrad.watch(model) as w:
        for step in range(6):
            h = model(x)
            extra = torch.log(h.abs().max() - 1e9) if step == 4 else 0  # log of a negative: NaN
            loss = ((h - y) ** 2).mean() + extra
            opt.zero_grad()
            loss.backward()
            opt.step()
    n = w.report().nonfinite
    assert n is not None and (n.step, n.phase, n.module, n.value) == (4, "loss", None, "nan")
    assert n.op == "AddBackward0 ← (MeanBackward0 ← PowBackward0, LogBackward0 ← SubBackward0)"
