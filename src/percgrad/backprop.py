"""The forward pass, the hand-derived backward pass (chain rule in matrix form), and autograd's."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.functions import Activation, Loss
from percgrad.net import Net


@dataclass
class Forward:
    """What the forward pass leaves: pre-activations a_k, outputs h_k = φ(a_k), and the loss."""

    pre: list[Tensor]
    post: list[Tensor]
    loss: Tensor

    @property
    def output(self) -> Tensor:
        """o = h_L."""
        return self.post[-1]


@dataclass
class Gradients:
    """∂E/∂W_k, ∂E/∂b_k and δ_k = ∂E/∂a_k for every layer, input side first."""

    weights: list[Tensor]
    biases: list[Tensor | None]
    deltas: list[Tensor]


def _affine(h: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    # a = h Wᵀ (+ b); addmm fuses the bias into the matmul.
    if b is None:
        return torch.mm(h, w.t())
    return torch.addmm(b, h, w.t())


def forward(net: Net, act: Activation, loss: Loss) -> Forward:
    """Run the network on its input without recording a graph."""
    with torch.no_grad():
        pre: list[Tensor] = []
        post: list[Tensor] = []
        h = net.x
        for w, b in zip(net.weights, net.biases):
            a = _affine(h, w, b)
            h = act.value(a)
            pre.append(a)
            post.append(h)
        return Forward(pre, post, loss.value(pre[-1], post[-1], net.t))


def analytic_backward(net: Net, fwd: Forward, act: Activation, loss: Loss) -> Gradients:
    """The chain rule by hand: δ_L = ∂E/∂o ⊙ φ′(a_L), ∂E/∂W_k = δ_kᵀ h_{k−1},
    ∂E/∂b_k = Σ_batch δ_k, δ_{k−1} = (δ_k W_k) ⊙ φ′(a_{k−1}). Plain tensor ops, no autograd."""
    depth = net.depth
    with torch.no_grad():
        g_w: list[Tensor] = [net.weights[0]] * depth
        g_b: list[Tensor | None] = [None] * depth
        deltas: list[Tensor] = [net.x] * depth
        delta = loss.delta_out(fwd.pre[-1], fwd.post[-1], net.t, act)
        for k in range(depth - 1, -1, -1):
            h_prev = net.x if k == 0 else fwd.post[k - 1]
            deltas[k] = delta
            g_w[k] = torch.mm(delta.t(), h_prev)
            if net.biases[k] is not None:
                g_b[k] = delta.sum(dim=0)
            if k > 0:
                delta = act.backprop_(torch.mm(delta, net.weights[k]), fwd.pre[k - 1],
                                      fwd.post[k - 1])
        return Gradients(g_w, g_b, deltas)


@dataclass
class Graph:
    """A recorded forward pass: the loss and the leaves (sharing the network's storage) it reads."""

    loss: Tensor
    weights: list[Tensor]
    biases: list[Tensor | None]
    pre: list[Tensor]


def graph_forward(net: Net, act: Activation, loss: Loss) -> Graph:
    """The forward pass with autograd recording, on fresh leaves; δ_k kept by ``retain_grad``."""
    ws = [w.detach().requires_grad_(True) for w in net.weights]
    bs = [None if b is None else b.detach().requires_grad_(True) for b in net.biases]
    with torch.enable_grad():
        h = net.x
        pre: list[Tensor] = []
        for w, b in zip(ws, bs):
            a = h @ w.t() if b is None else h @ w.t() + b
            a.retain_grad()
            pre.append(a)
            h = act.value(a)
        e = loss.value(pre[-1], h, net.t)
    return Graph(e, ws, bs, pre)


def graph_backward(graph: Graph) -> Gradients:
    """``loss.backward()`` on a recorded graph, and the gradients read back."""
    graph.loss.backward()

    def grad_of(t: Tensor) -> Tensor:
        return t.grad if t.grad is not None else torch.zeros_like(t)

    return Gradients(
        [grad_of(w) for w in graph.weights],
        [None if b is None else grad_of(b) for b in graph.biases],
        [grad_of(a).detach() for a in graph.pre],
    )


def autograd_backward(net: Net, act: Activation, loss: Loss) -> tuple[Gradients, Tensor]:
    """autograd's gradients of ``net``: a recorded forward pass, then ``loss.backward()``."""
    graph = graph_forward(net, act, loss)
    return graph_backward(graph), graph.loss.detach()
