"""Hooks on a user's model (engines/hooks.py): its leaves and containers, the parameters each
module holds itself, and what one hooked pass records."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from percgrad.engines.hooks import (
    all_finite,
    containers,
    float_tensors,
    hooked,
    label,
    leaves,
    own_parameters,
)
from percgrad.errors import PercgradError


def _model() -> nn.Module:
    torch.manual_seed(0)
    block = nn.Sequential(OrderedDict(a=nn.Linear(4, 4), act=nn.ReLU()))
    return nn.Sequential(OrderedDict(block=block, head=nn.Linear(4, 2)))


def test_leaves_containers_and_own_parameters() -> None:
    model = _model()
    assert [name for name, _ in leaves(model)] == ["block.a", "block.act", "head"]
    assert [name for name, _ in containers(model)] == ["block", ""]  # deepest first, root last
    owned = own_parameters(model)
    assert [p.shape for p in owned["head"]] == [torch.Size([2, 4]), torch.Size([2])]
    assert owned[""] == [] and owned["block.act"] == []
    assert label("") != "" and label("block.a") == "block.a"
    leaf = nn.Linear(2, 2)
    assert leaves(leaf) == [("", leaf)]


def test_a_hooked_pass_records_forward_order_and_dead_units() -> None:
    model = _model()
    with torch.no_grad():
        model.block.a.bias.fill_(-100.0)
    with hooked(model) as records:
        out = model(torch.randn(5, 4))
        out.sum().backward()
    assert records["block.a"].order < records["block.act"].order < records["head"].order
    assert records["block.act"].dead == 1.0
    assert all(r.out_finite for r in records.values())
    assert float_tensors((out, "text", {"k": out.detach().long()})) == [out]


def test_a_float_input_to_an_embedding_is_refused_naming_the_module_and_the_option() -> None:
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    with pytest.raises(PercgradError) as err, hooked(model):
        model(torch.zeros(3, 5))
    assert err.value.option == "--input-shape" and "3,5:long" in err.value.message
    with hooked(model):  # token ids pass
        assert model(torch.zeros(3, 5, dtype=torch.long)).shape == (3, 5, 2)


class _Table(nn.Module):
    """A module that returns a parameter held outside it: its output is a leaf tensor."""

    def __init__(self, table: nn.Parameter) -> None:
        super().__init__()
        self.held = [table]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.held[0]


def test_hooks_on_leaf_tensors_are_removed_with_the_others() -> None:
    table = nn.Parameter(torch.ones(3, 2))
    model = nn.Sequential(_Table(table))
    with hooked(model) as records:
        model(torch.zeros(3, 2)).sum().backward()
    assert records["0"].got_grad and records["0"].out_sq == pytest.approx(6.0)
    assert not table._backward_hooks  # the tensor hook on the parameter went with the pass


def test_finiteness_reads_a_sparse_tensors_stored_values() -> None:
    sparse = torch.sparse_coo_tensor(torch.tensor([[0, 0]]), torch.tensor([1.0, float("nan")]),
                                     (3,), check_invariants=True)
    assert not all_finite([sparse]) and all_finite([torch.ones(2).to_sparse()])
