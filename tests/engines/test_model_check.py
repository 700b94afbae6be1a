"""The check of a user's model (engines/model_check.py): a float64 copy in eval mode, the whole
model against its finite differences, and one module on its own input."""

from __future__ import annotations

import torch
from torch import nn

from percgrad.engines.model_check import (
    WrittenRows,
    check_model,
    check_module,
    float64_copy,
    param_objective,
    to_float64,
)
from percgrad.gradcheck.blackbox import BlackBoxDifferences, Shifts
from percgrad.gradcheck.function import run_objective
from percgrad.reports.user import GradCheck


def test_the_copy_is_float64_in_eval_mode_and_the_model_untouched() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(inplace=True), nn.Dropout(0.5))
    m64 = float64_copy(model)
    assert model.training and not m64.training
    assert next(model.parameters()).dtype == torch.float32
    assert all(p.dtype == torch.float64 for p in m64.parameters())
    assert not m64[1].inplace and model[1].inplace
    assert to_float64(torch.ones(2)).dtype == torch.float64
    assert to_float64(torch.ones(2, dtype=torch.long)).dtype == torch.long
    assert to_float64("text") == "text"


def test_a_right_model_and_module_pass() -> None:
    torch.manual_seed(0)
    m64 = float64_copy(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)))
    x = torch.randn(5, 3, dtype=torch.float64)
    check = check_model(m64, [x], "sum", None, "full", 1e-6, 0, 0)
    assert check.method == "full" and check.passed is True
    assert {g.name for g in check.groups} == {"0.weight", "0.bias", "2.weight", "2.bias"}
    before = [p.detach().clone() for p in m64.parameters()]
    local = check_module(m64[0], (x,), {}, 1e-6, 0, 1, "0")
    assert local is not None and local.passed is True
    assert {g.name for g in local.groups} == {"0.weight", "0.bias", "0.input"}
    assert all(torch.equal(a, b) for a, b in zip(before, m64.parameters()))  # restored

    class ArgMax(nn.Module):
        def forward(self, h: torch.Tensor) -> torch.Tensor:
            return h.argmax(dim=1)

    assert check_module(ArgMax(), (x,), {}, 1e-6, 0, 1) is None  # no floating-point output


def _tiny_head_relu_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(6):
        layers += [nn.Linear(16, 16), nn.ReLU()]
    net = nn.Sequential(*layers, nn.Linear(16, 4))
    nn.init.normal_(net[-1].weight, std=1e-4)  # SqueezeNet-like head: ∂E/∂W of the body ~1e-5
    return net


def test_a_right_relu_net_with_a_tiny_head_is_never_failed() -> None:
    # its body's differences at ε = 1e-4 and 1e-5 both cross ReLU kinks and agree on a wrong slope
    for seed in range(12):  # seed 10 failed the full check before plateaus were contradicted
        m64 = float64_copy(_tiny_head_relu_net(seed))
        x = torch.randn(64, 16, dtype=torch.float64)
        for method in ("full", "fast"):
            check = check_model(m64, [x], "sum", None, method, 1e-6, seed, 0)
            assert check.passed is not False, (seed, method, check.worst)


class _WrongTanh(torch.autograd.Function):
    """tanh with a backward 1 % too large (no setup_context: the check runs it in a loop)."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (y,) = ctx.saved_tensors
        return 1.01 * g * (1 - y * y)


class _BadTanh(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _WrongTanh.apply(x)


def _conv_net(bad_at: int | None = None) -> nn.Module:
    torch.manual_seed(0)
    body: list[nn.Module] = [nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Tanh(),
                             nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh()),
                             nn.Flatten(), nn.Linear(3 * 4 * 4, 4), nn.Tanh(), nn.Linear(4, 2)]
    if bad_at is not None:
        body[bad_at] = _BadTanh()
    return nn.Sequential(*body)


def _loop_check(m64: nn.Module, x: torch.Tensor, method: str, replay: bool = True,
                ) -> tuple[GradCheck, BlackBoxDifferences, WrittenRows]:
    """The model's check with one row at a time (the plain loop), replay on or off."""
    obj = param_objective(m64, [x], {}, lambda o: o.sum(), with_inputs=False)
    assert obj is not None and isinstance(obj.loop_fn, WrittenRows)
    if not replay:
        obj.loop_fn.recorded = True  # never records: every row runs in full
    obj.row_bytes = 2**40  # two rows per call: never stacked through vmap
    check, diffs = run_objective(obj, method, 1e-6, 0)
    assert diffs is not None and diffs.stacked == 0
    return check, diffs, obj.loop_fn


def test_a_shifted_row_is_the_dense_row_and_leaves_the_parameters_as_they_were() -> None:
    m64 = float64_copy(_conv_net())
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    obj = param_objective(m64, [x], {}, lambda o: o.sum(), with_inputs=False)
    assert obj is not None and isinstance(obj.loop_fn, WrittenRows)
    rows, before = obj.loop_fn, [p.detach().clone() for p in m64.parameters()]
    gen = torch.Generator().manual_seed(1)
    for start, length in ((0, 5), (rows.starts[1] - 2, 4), (rows.starts[-2], 2)):  # 4: 2 tensors
        delta = 1e-3 * torch.randn(length, generator=gen, dtype=torch.float64)
        dense = obj.theta.clone()
        dense[start:start + length] += delta
        assert torch.equal(rows.shifted(start, delta), obj.fn(dense))
        assert all(torch.equal(a, b) for a, b in zip(before, m64.parameters()))
    assert rows.replay is not None and rows.verified  # the later rows replayed the first layers
    layer = float64_copy(nn.Linear(3, 2))
    x = torch.randn(4, 3, dtype=torch.float64)
    obj = param_objective(layer, [x], {}, lambda o: o.sum(), with_inputs=True)
    assert obj is not None and isinstance(obj.loop_fn, WrittenRows)
    start = obj.loop_fn.starts[2]  # the input, after weight and bias
    dense = obj.theta.clone()
    dense[start + 1] += 1e-3
    assert torch.equal(obj.loop_fn.shifted(start + 1, torch.tensor([1e-3], dtype=torch.float64)),
                       obj.fn(dense))


def test_replayed_calls_give_every_difference_bit_for_bit() -> None:
    m64 = float64_copy(_conv_net())
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    for method in ("fast", "full"):
        ours, diffs, rows = _loop_check(m64, x, method)
        plain, again, _ = _loop_check(m64, x, method, replay=False)
        assert rows.replay is not None and rows.verified
        assert ours.passed is True and plain.passed is True
        assert torch.equal(diffs.estimates.nan_to_num(7.0), again.estimates.nan_to_num(7.0))


def test_a_wrong_backward_fails_with_replay_wherever_it_sits() -> None:
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    for bad_at, method in ((2, "fast"), (6, "fast"), (6, "full")):  # early, and late
        check, _, rows = _loop_check(float64_copy(_conv_net(bad_at)), x, method)
        assert check.passed is False, (bad_at, method)
        assert rows.replay is not None


def test_shifts_make_the_dense_rows_bit_for_bit() -> None:
    gen = torch.Generator().manual_seed(2)
    theta = torch.randn(12, generator=gen, dtype=torch.float64)
    eps, u = 1e-5, torch.randn(3, generator=gen, dtype=torch.float64)
    rows = Shifts([4, 4], [eps * u, -(eps * u)]).dense(theta)  # θ ± εu over entries 4…6
    plus, minus = theta.clone(), theta.clone()
    plus[4:7] += eps * u
    minus[4:7] -= eps * u
    assert torch.equal(rows, torch.stack([plus, minus]))
    mixed = Shifts([0, 9], [torch.ones(2, dtype=torch.float64), torch.ones(3, dtype=torch.float64)])
    assert torch.equal(mixed.dense(theta).sum(1) - theta.sum(), torch.tensor([2.0, 3.0],
                                                                             dtype=torch.float64))
