"""Progress that moves with the work (issue 17, item 10): drawing the network and each of the
three passes count their layers on an optional callback, at most ~20 times a second, and
counting changes no number."""

from __future__ import annotations

import pytest
import torch

from percgrad.network import passes
from percgrad.network.net import build_net
from percgrad.network.passes import (
    analytic_backward,
    autograd_backward,
    forward,
    graph_backward,
    graph_forward,
)
from percgrad.runtime import progress as runtime_progress
from percgrad.runtime.progress import INTERVAL_S, part, throttled, ticker
from percgrad.spec.build import chain_spec

Seen = list[tuple[int, int]]


def counted(seen: Seen, total: int, least: int = 3) -> None:
    """Every report is of ``total``; ``done`` grows strictly, through at least ``least`` values,
    and ends at ``total``."""
    assert seen, "nothing reported"
    assert {t for _, t in seen} == {total}
    done = [d for d, _ in seen]
    assert done == sorted(set(done)), done
    assert done[-1] == total
    assert len(done) >= least


def _net(depth: int = 12, width: int = 3, **kw: object):
    return build_net(chain_spec(depth=depth, width=width, batch=2, device="cpu", **kw))


def test_build_net_counts_the_layers_it_draws(every_call: None) -> None:
    seen: Seen = []
    spec = chain_spec(depth=9, width=4, device="cpu")
    net = build_net(spec, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(k, 9) for k in range(1, 10)]
    # the same numbers as without counting
    for a, b in zip(net.parameters(), build_net(spec).parameters()):
        assert torch.equal(a, b)


def test_forward_and_the_hand_derived_backward_count_their_layers(every_call: None) -> None:
    net = _net()
    seen: Seen = []
    fwd = forward(net, lambda d, t: seen.append((d, t)))
    assert seen == [(k, 12) for k in range(1, 13)]
    seen.clear()
    grads = analytic_backward(net, fwd, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(k, 12) for k in range(1, 13)]
    plain = analytic_backward(net, forward(net))
    assert all(torch.equal(a, b) for a, b in zip(grads.weights, plain.weights))


@pytest.mark.parametrize("mistake", ["no-transpose", "stale-delta", "forget-dphi"])
def test_a_planted_mistake_still_counts_every_layer(every_call: None, mistake: str) -> None:
    net = _net(depth=6)
    seen: Seen = []
    analytic_backward(net, forward(net), mistake, lambda d, t: seen.append((d, t)))
    assert seen == [(k, 6) for k in range(1, 7)]


def test_autograd_counts_its_recording_and_its_backward(every_call: None) -> None:
    net = _net(depth=10)
    seen: Seen = []
    grads, loss = autograd_backward(net, lambda d, t: seen.append((d, t)))
    counted(seen, 20, least=20)  # 10 layers recorded, then 10 passed by backward
    plain, plain_loss = autograd_backward(net)
    assert torch.equal(loss, plain_loss)
    for a, b in zip(grads.weights + grads.deltas, plain.weights + plain.deltas):
        assert torch.equal(a, b)


def test_autograd_backward_hooks_at_most_about_hooks_layers(every_call: None) -> None:
    depth = 3 * passes.HOOKS + 7
    net = _net(depth=depth, width=1)
    graph = graph_forward(net)
    seen: Seen = []
    graph_backward(graph, lambda d, t: seen.append((d, t)))
    counted(seen, depth, least=passes.HOOKS // 2)
    assert len(seen) <= passes.HOOKS + 1
    assert all(a.grad is not None for a in graph.pre)  # hooks leave retain_grad's δ in place
    assert not any(a._backward_hooks for a in graph.pre)  # and are removed after


def test_a_loop_reports_at_most_once_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]

    def clock() -> float:  # a layer takes a tenth of the interval
        now[0] += INTERVAL_S / 10
        return now[0]

    monkeypatch.setattr(runtime_progress, "perf_counter", clock)
    seen: Seen = []
    forward(_net(depth=100, width=1), lambda d, t: seen.append((d, t)))
    counted(seen, 100)
    assert 5 <= len(seen) <= 12  # ~one report per 10 layers, the first and the last
    assert seen[0] == (1, 100)


def test_parts_of_a_phase_and_its_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: Seen = []
    whole = part(lambda d, t: seen.append((d, t)), 10, 20, 40)
    assert whole is not None
    whole(1, 4)
    whole(4, 4)  # the end of a part is not the end of the phase
    assert seen == [(15, 40), (30, 40)]
    assert part(None, 0, 1, 1) is None and throttled(None) is None and ticker(None, 3) is None
    monkeypatch.setattr(runtime_progress, "perf_counter", lambda: 1.0)  # time stands still
    seen.clear()
    slow = throttled(lambda d, t: seen.append((d, t)))
    assert slow is not None
    for done in range(11):
        slow(done, 10)
    assert seen == [(0, 10), (10, 10)]  # the first report and the end
