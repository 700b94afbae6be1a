"""Hooks on a user's model (engines/hooks.py): its leaves and containers, the parameters each
module holds itself, and what one hooked pass records."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from percgrad.engines.hooks import containers, float_tensors, hooked, label, leaves, own_parameters


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
