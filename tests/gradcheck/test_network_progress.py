"""The random-direction check counts the layers of its batched pass (issue 17, item 10): the
stack of perturbed networks moves its bar layer by layer, and counting changes no number."""

from __future__ import annotations

import pytest
import torch

from percgrad.gradcheck import network as numeric
from percgrad.network.net import build_net
from percgrad.network.passes import analytic_backward, forward
from percgrad.spec.build import chain_spec


def _net(depth: int = 8):
    return build_net(chain_spec(depth=depth, width=4, batch=3, activation="tanh", device="cpu"))


def test_fast_gradients_count_the_layers_of_the_stack(every_call: None) -> None:
    net = _net()
    grads = analytic_backward(net, forward(net))
    seen: list[tuple[int, int]] = []
    counted = numeric.fast_gradients(net, [grads], seed=1, progress=lambda d, t: seen.append((d, t)))
    # (0, 9) when it begins, one report per layer of the stack, (9, 9) once projected
    assert seen == [(k, 9) for k in range(10)]
    plain = numeric.fast_gradients(net, [grads], seed=1)
    assert torch.equal(counted.projections, plain.projections)
    assert torch.equal(counted.spread, plain.spread)


@pytest.mark.parametrize("fast_paths", [True, False], ids=["own-path", "generic"])
def test_direction_losses_count_each_layer(every_call: None, fast_paths: bool) -> None:
    net = _net(depth=5)
    obj = numeric.NetObjective(net, fast_paths)
    dirs = numeric.directions(obj.shapes, 2, 0, "cpu")
    row_eps = torch.tensor([1e-3, 1e-3, -1e-3, -1e-3], dtype=torch.float64)
    seen: list[tuple[int, int]] = []
    obj.direction_losses(dirs, row_eps, 2, lambda d, t: seen.append((d, t)))
    assert seen == [(k, 5) for k in range(1, 6)]
