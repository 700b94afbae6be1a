"""One hooked pass of a user's model and its statistics per module (engines/module_stats.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from percgrad.engines.diagnose import constant_loss
from percgrad.engines.module_stats import module_stats, one_pass, precise_pass
from percgrad.errors import PercgradError


def test_each_modules_norms_are_its_own_parameters_and_gradients() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    result, targets = one_pass(model, [x], "mse", None, seed=0)
    assert targets is not None and targets.shape == (5, 2)
    assert [n.kind for n in result.notes] == ["random-targets"]
    stats = module_stats(model, result)
    assert [(s.name, s.type, s.weight_layer) for s in stats] == [
        ("0", "Linear", True), ("1", "Tanh", False), ("2", "Linear", True)]
    first = stats[0]
    expected = math.sqrt(float(model[0].weight.grad.square().sum() + model[0].bias.grad.square().sum()))
    assert first.grad_norm == pytest.approx(expected)
    assert first.params == 16 and stats[1].params == 0 and stats[1].grad_norm is None
    with torch.no_grad():
        assert result.loss == pytest.approx(float(((model(x) - targets) ** 2).mean()))


def test_a_forward_pass_that_raises_names_the_input_shape() -> None:
    with pytest.raises(PercgradError) as err:
        one_pass(nn.Linear(3, 2), [torch.randn(5, 4)], "sum", None, seed=0)
    assert err.value.option == "TARGET" and "5×4" in err.value.message


def _embedding_model(sparse: bool) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(20, 4, sparse=sparse), nn.Flatten(), nn.Linear(12, 2))


def test_a_sparse_gradient_has_the_norm_of_the_dense_one() -> None:
    ids = torch.tensor([[1, 2, 1], [5, 1, 2]])  # repeated ids: an uncoalesced sparse gradient
    rows = {}
    for sparse in (True, False):
        model = _embedding_model(sparse)
        result, _ = one_pass(model, [ids], "sum", None, seed=0)
        assert all(g is None or g.layout == torch.strided for g in result.grads.values())
        rows[sparse] = module_stats(model, result)
    sparse_row, dense_row = rows[True][0], rows[False][0]
    assert sparse_row.grad_norm == pytest.approx(dense_row.grad_norm, rel=1e-12)
    assert sparse_row.finite_backward and sparse_row.weight_layer


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_coarse_dtypes_pass_is_judged_against_a_float64_one(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)
    x = torch.randn(4, 8).to(dtype)
    first, targets = one_pass(model, [x], "mse", None, seed=0)
    precise = precise_pass(model, [x], "mse", targets, seed=0)
    assert precise is not None and precise.grads["0.weight"] is not None
    assert precise.grads["0.weight"].dtype == torch.float64
    assert precise.loss == pytest.approx(first.loss, rel=0.05)  # the same E, less rounded
    assert constant_loss(precise) == (False, None)  # E depends on the weights
    softmax = nn.Sequential(nn.Linear(8, 5), nn.Softmax(-1)).to(dtype)
    summed, _ = one_pass(softmax, [x], "sum", None, seed=0)
    assert constant_loss(summed)[0]  # found in the coarse dtype too
    reference = precise_pass(softmax, [x], "sum", None, seed=0)
    assert reference is not None and constant_loss(reference) == (True, "softmax-sum")
    assert model[0].weight.dtype == dtype  # the float64 pass ran on a copy


def test_a_float32_model_needs_no_float64_pass() -> None:
    model = nn.Linear(3, 2)
    assert precise_pass(model, [torch.randn(2, 3)], "sum", None, seed=0) is None


def test_a_forward_that_changes_its_input_in_place_leaves_it_as_it_was() -> None:
    class AddsOne(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x.add_(1.0)
            return self.a(x)

    torch.manual_seed(0)
    model, x = AddsOne(), torch.randn(4, 3)
    before = x.clone()
    first, _ = one_pass(model, [x], "sum", None, seed=0)
    again, _ = one_pass(model, [x], "sum", None, seed=0)
    assert torch.equal(x, before) and first.loss == again.loss
    with torch.no_grad():
        assert first.loss == pytest.approx(float(model.a(before + 1.0).sum()), rel=1e-6)
