"""Replaying the module calls that a perturbation leaves unchanged (engines/replay.py): what is
recorded, what is replayed, and that a replayed pass gives the full pass's value bit for bit."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from percgrad.engines.replay import Replay, copied, plain, same


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _recorded(net: nn.Module, x: Tensor, budget: int = 2**20) -> Replay:
    replay = Replay(net, list(net.parameters()), budget)
    replay.record(lambda: net(x).sum())
    return replay


def test_plain_values_are_copied_and_compared_bit_for_bit() -> None:
    t = torch.ones(2, dtype=torch.float64)
    assert plain([t, (1, 2.0, "a", None), {"k": t}]) and not plain(nn.Parameter(t))
    assert not plain(object()) and not plain({1: t})
    memo: dict[tuple[int, int], Tensor] = {}
    a, b = copied([t, t], memo)
    assert a is b and a is not t and torch.equal(a, t)
    t.add_(1.0)  # changed in place since: copied again
    assert torch.equal(copied(t, memo), t) and not torch.equal(a, t)
    assert same((t, 1, None), (t.clone(), 1, None)) and not same(t, t.float())
    assert not same(t, torch.nextafter(t, t + 1))  # one ulp apart
    nan = torch.tensor([float("nan")])
    assert not same(nan, nan.clone()) and not same([t], (t,)) and not same(1, 1.0)


def test_calls_before_the_perturbed_tensor_are_replayed_and_the_value_is_the_same() -> None:
    net = _net()
    x = torch.randn(5, 3, dtype=torch.float64)
    replay = _recorded(net, x)
    with torch.no_grad():
        net[2].weight[0, 0] += 1e-3
        full = net(x).sum()
    value, hits = replay.run({id(net[2].weight)}, lambda: net(x).sum())
    assert hits == 2 and torch.equal(value, full)  # Linear 0 and Tanh, not the Linear perturbed
    with torch.no_grad():
        net[2].weight[0, 0] -= 1e-3
        net[0].bias[1] += 1e-3
        full = net(x).sum()
    value, hits = replay.run({id(net[0].bias)}, lambda: net(x).sum())
    assert hits == 0 and torch.equal(value, full)  # everything depends on the first layer


def test_a_call_that_changes_its_input_aliases_it_or_exceeds_the_budget_is_not_recorded() -> None:
    class AddInPlace(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x.add_(1.0)

    class Double(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return 2 * x

    net = nn.Sequential(nn.Linear(3, 3), AddInPlace(), nn.Flatten(), Double(), nn.Linear(3, 1))
    net = net.double()
    x = torch.randn(4, 3, dtype=torch.float64)
    replay = _recorded(net, x)
    assert replay.calls[id(net[1])] == [None]  # its input changed in place
    assert replay.calls[id(net[2])] == [None]  # its output is a view of its input
    assert replay.calls[id(net[3])][0] is not None and replay.calls[id(net[0])][0] is not None
    with torch.no_grad():
        full = net(x).sum()
    value, hits = replay.run({id(net[4].weight)}, lambda: net(x).sum())
    assert torch.equal(value, full) and hits == 2  # Linear 0 and Double, the others ran
    assert all(c is None for calls in _recorded(net, x, budget=0).calls.values() for c in calls)


def test_a_parameter_read_from_outside_the_module_is_seen() -> None:
    class Peek(nn.Module):
        """Reads another module's weight that it does not hold (a plain attribute)."""

        def __init__(self, other: nn.Linear) -> None:
            super().__init__()
            self.__dict__["other"] = other

        def forward(self, x: Tensor) -> Tensor:
            return x * self.other.weight.sum()

    last = nn.Linear(3, 1)
    net = nn.Sequential(nn.Linear(3, 3), Peek(last), nn.Tanh(), last).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    replay = _recorded(net, x)
    assert id(last.weight) in replay.calls[id(net[1])][0].reads  # type: ignore[union-attr]
    with torch.no_grad():
        last.weight[0, 1] += 1e-3
        full = net(x).sum()
    value, hits = replay.run({id(last.weight)}, lambda: net(x).sum())
    assert torch.equal(value, full) and hits == 1  # only Linear 0: Peek runs again


def test_a_module_called_twice_is_replayed_call_by_call() -> None:
    torch.manual_seed(0)
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.Tanh(), shared, nn.Linear(3, 1)).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    replay = _recorded(net, x)
    assert len(replay.calls[id(shared)]) == 2
    with torch.no_grad():
        net[3].bias += 1e-3
        full = net(x).sum()
    value, hits = replay.run({id(net[3].bias)}, lambda: net(x).sum())
    assert torch.equal(value, full) and hits == 3
    with torch.no_grad():
        net[3].bias -= 1e-3
        shared.bias[0] += 1e-3
        full = net(x).sum()
    value, hits = replay.run({id(shared.bias)}, lambda: net(x).sum())
    assert torch.equal(value, full) and hits == 0
