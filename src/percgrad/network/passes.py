"""The three passes over a network's layers: forward, the hand-derived backward (each layer's
chain rule), and autograd's. Each is one short loop over the layers, counting the layers done
on an optional ``progress`` (at most ~20 reports a second)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from percgrad.network.layers import Trace
from percgrad.network.net import Net
from percgrad.runtime.progress import Progress, part, throttled, ticker

HOOKS = 100
"""autograd's backward counts its layers by hooks on at most about this many of them."""


@dataclass
class Forward:
    """What the forward pass leaves: every layer's trace, and the loss."""

    traces: list[Trace]
    loss: Tensor

    @property
    def pre(self) -> list[Tensor]:
        """a_k = h_k−1 W_kᵀ + b_k of every layer."""
        return [tr.a for tr in self.traces]

    @property
    def phi_in(self) -> list[Tensor]:
        """φ's input of every layer (a_k, or LN(a_k))."""
        return [tr.z for tr in self.traces]

    @property
    def post(self) -> list[Tensor]:
        """h_k, every layer's output."""
        return [tr.out for tr in self.traces]

    @property
    def output(self) -> Tensor:
        """o = h_L."""
        return self.traces[-1].out


@dataclass
class Gradients:
    """∂E/∂θ of every parameter of every layer, and δ_k = ∂E/∂a_k, input side first."""

    params: list[list[Tensor]]
    deltas: list[Tensor]
    names: list[tuple[str, ...]]
    """Each layer's parameter names (W, b, γ, β)."""

    def of(self, name: str) -> list[Tensor | None]:
        """The gradient of the parameter ``name`` in every layer (None where it has none)."""
        return [g[n.index(name)] if name in n else None for g, n in zip(self.params, self.names)]

    @property
    def weights(self) -> list[Tensor]:
        """∂E/∂W_k."""
        return [g[0] for g in self.params]

    @property
    def biases(self) -> list[Tensor | None]:
        """∂E/∂b_k (None without bias)."""
        return self.of("b")


def forward(net: Net, progress: Progress | None = None) -> Forward:
    """Run the network on its input without recording a graph."""
    tick = ticker(progress, net.depth)
    with torch.no_grad():
        traces: list[Trace] = []
        h = net.x
        for k, layer in enumerate(net.layers):
            tr = layer.forward(h)
            traces.append(tr)
            h = tr.out
            if tick is not None:
                tick(k + 1)
        last = traces[-1]
        return Forward(traces, net.loss.value(last.z, last.out, net.t))


def analytic_backward(net: Net, fwd: Forward, mistake: str | None = None,
                      progress: Progress | None = None) -> Gradients:
    """The chain rule by hand, layer by layer from the output: each layer turns ∂E/∂h_k into
    its parameters' gradients, δ_k and ∂E/∂h_k−1. Plain tensor ops, no autograd. ``mistake``
    plants one classic error (catalog.MISTAKES), to watch the check catch it."""
    depth = net.depth
    tick = ticker(progress, depth)
    with torch.no_grad():
        last = fwd.traces[-1]
        g = net.loss.grad_output(last.out, net.t)
        g_z = None
        if net.loss.fused_delta is not None and not net.layers[-1].skips:
            g_z = net.loss.fused_delta(last.out, net.t)
        if mistake in ("drop-2", "wrong-sign", "sum-not-mean"):
            scale = {"drop-2": 0.5, "wrong-sign": -1.0,
                     "sum-not-mean": float(last.out.shape[-2:].numel())}[mistake]
            g = g * scale
            g_z = None if g_z is None else g_z * scale
        params: list[list[Tensor]] = [[]] * depth
        deltas: list[Tensor] = [net.x] * depth
        for k in range(depth - 1, -1, -1):
            layer = net.layers[k]
            if mistake == "forget-dphi":
                g_z = g.clone()
            if mistake == "no-transpose" and k > 0 and layer.shape[0] == layer.shape[1]:
                skip = g.clone() if layer.skips else None
                _, params[k], deltas[k] = layer.backward(g, fwd.traces[k], g_z, False)
                g = torch.mm(deltas[k], layer.weight.t())
                if skip is not None:
                    g = g + skip
                g_z = None
            else:
                g_in, params[k], deltas[k] = layer.backward(g, fwd.traces[k], g_z, k > 0)
                g_z = None
                if g_in is not None:
                    g = g_in
                if (mistake == "stale-delta" and k > 0
                        and deltas[k].shape == fwd.traces[k - 1].z.shape):
                    g_z = deltas[k].clone()
            if tick is not None:
                tick(depth - k)
        return Gradients(params, deltas, [layer.names for layer in net.layers])


@dataclass
class Graph:
    """A recorded forward pass: the loss, the leaves (sharing the network's storage) it reads,
    and each layer's pre-activation (its δ kept by ``retain_grad``)."""

    loss: Tensor
    leaves: list[list[Tensor]]
    pre: list[Tensor]
    names: list[tuple[str, ...]]


def graph_forward(net: Net, progress: Progress | None = None) -> Graph:
    """The forward pass with autograd recording, on fresh leaves."""
    tick = ticker(progress, net.depth)
    leaves = [[p.detach().requires_grad_(True) for p in layer.params] for layer in net.layers]
    with torch.enable_grad():
        h = net.x
        pre: list[Tensor] = []
        tr = None
        for k, (layer, ps) in enumerate(zip(net.layers, leaves)):
            tr = layer.trace(h, ps)
            tr.a.retain_grad()
            pre.append(tr.a)
            h = tr.out
            if tick is not None:
                tick(k + 1)
        assert tr is not None
        e = net.loss.value(tr.z, tr.out, net.t)
    return Graph(e, leaves, pre, [layer.names for layer in net.layers])


def _count_layers(graph: Graph, progress: Progress | None) -> list[RemovableHandle]:
    """Hooks that count the layers backward has passed, on every ``stride``-th layer's δ (at
    most about HOOKS of them; the end is reported by the caller)."""
    depth = len(graph.pre)
    tick = ticker(progress, depth)
    if tick is None:
        return []
    stride = max(1, -(-depth // HOOKS))

    def counter(done: int) -> Callable[[Tensor], None]:
        def hook(_: Tensor) -> None:
            assert tick is not None
            tick(done)

        return hook

    return [graph.pre[k].register_hook(counter(depth - k))
            for k in range(depth - stride, 0, -stride) if graph.pre[k].requires_grad]


def graph_backward(graph: Graph, progress: Progress | None = None) -> Gradients:
    """``loss.backward()`` on a recorded graph, and the gradients read back."""
    handles = _count_layers(graph, progress)
    try:
        graph.loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    if progress is not None:
        progress(len(graph.pre), len(graph.pre))

    def grad_of(t: Tensor) -> Tensor:
        return t.grad if t.grad is not None else torch.zeros_like(t)

    return Gradients(
        [[grad_of(p) for p in ps] for ps in graph.leaves],
        [grad_of(a).detach() for a in graph.pre],
        graph.names,
    )


def autograd_backward(net: Net, progress: Progress | None = None) -> tuple[Gradients, Tensor]:
    """autograd's gradients of ``net``: a recorded forward pass, then ``loss.backward()``;
    ``progress`` counts both over 2·depth."""
    depth = net.depth
    progress = throttled(progress)
    graph = graph_forward(net, part(progress, 0, depth, 2 * depth))
    return graph_backward(graph, part(progress, depth, depth, 2 * depth)), graph.loss.detach()
