"""The loss of a user's model (engines/model_loss.py): which output, which loss, seeded targets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from percgrad.engines.model_loss import loss_value, main_output, random_targets, resolve_loss
from percgrad.errors import PercgradError


def test_auto_is_mse_with_targets_and_sum_without() -> None:
    assert resolve_loss("auto", True) == "mse" and resolve_loss("auto", False) == "sum"
    assert resolve_loss("CE", False) == "cross-entropy"
    with pytest.raises(PercgradError) as err:
        resolve_loss("hinge", True)
    assert err.value.option == "--loss"


def test_the_output_a_loss_is_taken_of() -> None:
    out = torch.randn(2, 3)
    assert main_output(out) is out
    assert main_output({"logits": out, "aux": torch.zeros(1)}) is out
    notes: list = []
    assert main_output(("text", out, out + 1), notes) is out
    assert [n.kind for n in notes] == ["first-output"]
    with pytest.raises(PercgradError):
        main_output("no tensor")


def test_each_loss_is_torchs_and_targets_are_seeded() -> None:
    gen = torch.Generator().manual_seed(0)
    out = torch.randn(4, 3, generator=gen)
    t = torch.randn(4, 3, generator=gen)
    assert torch.equal(loss_value("mse", out, t), F.mse_loss(out, t))
    assert torch.equal(loss_value("sum", out, None), out.sum())
    classes = torch.tensor([0, 2, 1, 1])
    assert torch.allclose(loss_value("cross-entropy", out, classes), F.cross_entropy(out, classes))
    assert torch.equal(random_targets("mse", out, 5), random_targets("mse", out, 5))  # type: ignore[arg-type]
    assert not torch.equal(random_targets("mse", out, 5), random_targets("mse", out, 6))  # type: ignore[arg-type]
    labels = random_targets("cross-entropy", out, 0)
    assert labels is not None and labels.shape == (4,) and int(labels.max()) < 3
    assert random_targets("sum", out, 0) is None
