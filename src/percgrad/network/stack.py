"""P chains of L layers of width N as one batched stack: the weights stacked (P, N, N), drawn
from one seed, the forward pass and the hand-derived backward over the whole stack (``torch.bmm``
over P), its check against autograd, and plain gradient descent on every chain at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.network.functions import Activation

TARGET = 1.0
"""vanish's default target: E = (1/n) Σ (o − 1)²."""


@dataclass
class Stack:
    """P networks of L layers of width N: W_k stacked (P, N, N), b_k stacked (P, N) (zero
    where σ_b² = 0, which adds exactly nothing), the batch x (B, N) they share, and the second
    inputs paired with them (B, N): pair[b] has the correlation ``draw`` was given with x[b] (in
    expectation)."""

    weights: list[Tensor]
    biases: list[Tensor] | None
    x: Tensor
    pair: Tensor
    readout: Tensor
    """g (B, N) ~ N(0, 1): the read-out E = Σ g ⊙ h_L whose gradient is back-propagated."""

    @property
    def points(self) -> int:
        """P."""
        return int(self.weights[0].shape[0])


def finite_or_none(v: float) -> float | None:
    """``v``, or None when it is NaN or ±∞."""
    return v if math.isfinite(v) else None


def draw(points: Sequence[tuple[float, float]], width: int, depth: int, batch: int, seed: int,
         pair_correlation: float, device: torch.device, dtype: torch.dtype) -> Stack:
    """One chain per (σ_w², σ_b²) of ``points`` (those with σ_b² = 0 first), drawn as
    ``build_net`` draws vanish's from the same seed: x, then per layer W ~ N(0, σ_w²/N) and,
    where σ_b² > 0, b ~ N(0, σ_b²). The standard normals are drawn in float64 on the CPU once
    per bias pattern (the σ_b² = 0 chains draw no biases, so their stream differs), then cast,
    moved, and scaled per chain in the compute dtype: the same numbers as vanish's up to that
    dtype's round-off of σ·z. The second inputs have correlation ``pair_correlation`` with x."""
    n, p = width, len(points)
    split = next((i for i, (_, b) in enumerate(points) if b != 0), p)
    ranges = [(has, lo, hi) for has, lo, hi in ((False, 0, split), (True, split, p)) if hi > lo]
    gens = {has: torch.Generator(device="cpu").manual_seed(seed) for has, _, _ in ranges}
    xs = {has: torch.randn((batch, n), generator=g, dtype=torch.float64) for has, g in gens.items()}
    x = next(iter(xs.values()))
    pair_gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    noise = torch.randn((batch, n), generator=pair_gen, dtype=torch.float64)
    pair = pair_correlation * x + math.sqrt(1.0 - pair_correlation**2) * noise
    readout = torch.randn((batch, n), generator=pair_gen, dtype=torch.float64)
    w_std = torch.tensor([math.sqrt(w / n) for w, _ in points], dtype=dtype, device=device)
    b_std = torch.tensor([math.sqrt(b) for _, b in points], dtype=dtype, device=device)
    with_bias = split < p
    weights: list[Tensor] = []
    biases: list[Tensor] = []
    for _ in range(depth):
        w_layer = torch.empty((p, n, n), dtype=dtype, device=device)
        b_layer = torch.zeros((p, n), dtype=dtype, device=device) if with_bias else None
        for has, lo, hi in ranges:
            z = torch.randn((n, n), generator=gens[has], dtype=torch.float64)
            torch.mul(w_std[lo:hi, None, None], z.to(device=device, dtype=dtype)[None], out=w_layer[lo:hi])
            if has and b_layer is not None:
                xi = torch.randn(n, generator=gens[has], dtype=torch.float64)
                torch.mul(b_std[lo:hi, None], xi.to(device=device, dtype=dtype)[None], out=b_layer[lo:hi])
        weights.append(w_layer)
        if b_layer is not None:
            biases.append(b_layer)
    return Stack(weights, biases if with_bias else None, x.to(device=device, dtype=dtype),
                 pair.to(device=device, dtype=dtype), readout.to(device=device, dtype=dtype))


def forward(weights: list[Tensor], biases: list[Tensor] | None, h: Tensor,
            act: Activation) -> tuple[list[Tensor], list[Tensor]]:
    """a_k = h_k−1 W_kᵀ + b_k and h_k = φ(a_k) of every network of the stack, h (P, rows, N)."""
    pre: list[Tensor] = []
    post: list[Tensor] = []
    for k, w in enumerate(weights):
        wt = w.transpose(1, 2)
        a = torch.bmm(h, wt) if biases is None else torch.baddbmm(biases[k][:, None, :], h, wt)
        h = act.value(a)
        pre.append(a)
        post.append(h)
    return pre, post


def backward(weights: list[Tensor], pre: list[Tensor], post: list[Tensor], act: Activation,
             normalise: bool, readout: Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
    """The hand-derived δ_k = ∂E/∂a_k of every network: δ_L = ∂E/∂o ⊙ φ′(a_L),
    δ_k = (δ_k+1 W_k+1) ⊙ φ′(a_k), for E = g·o (the random read-out ``readout``, g of shape
    (rows, N), shared by every network: ∂E/∂o = g) or, without it, E = (1/n) Σ (o − 1)²
    (∂E/∂o = (2/n)(o − 1)). Returns ln ‖δ_k‖² (L, P) in float64 and, unless ``normalise``, the
    δ's themselves; with ``normalise`` each δ is scaled to unit norm per network before the next
    layer (the recursion is linear in δ, so the log norms add up exactly, and no depth
    underflows or overflows)."""
    depth = len(pre)
    o = post[-1]
    n = o.shape[1] * o.shape[2]
    grad_o = readout.expand_as(o).clone() if readout is not None else (2.0 / n) * (o - TARGET)
    delta = act.backprop_(grad_o, pre[-1], o)
    logs = torch.empty((depth, o.shape[0]), dtype=torch.float64, device=o.device)
    deltas: list[Tensor] = [delta] * depth
    carry = torch.zeros(o.shape[0], dtype=torch.float64, device=o.device)
    for k in range(depth - 1, -1, -1):
        if k < depth - 1:
            delta = act.backprop_(torch.bmm(delta, weights[k + 1]), pre[k], post[k])
        sq = delta.double().square().sum(dim=(1, 2))
        logs[k] = carry + torch.log(sq)
        if normalise:
            good = (sq > 0) & torch.isfinite(sq)
            scale = torch.where(good, torch.rsqrt(torch.where(good, sq, 1.0)), 1.0)
            delta = delta * scale.to(delta.dtype)[:, None, None]
            carry = logs[k]
        else:
            deltas[k] = delta
    return logs, ([] if normalise else deltas)


@dataclass
class Measured:
    """What the stack's chains measured, per network (P,)."""

    factor: list[float | None]
    layer_factors: list[list[float | None]]
    corr: list[float | None]
    q_last: list[float | None]
    finite: list[bool]


def measure(stack: Stack, act: Activation, window: tuple[int, int]) -> Measured:
    """Forward the batch and its paired inputs through every network, then the normalised
    backward of the batch; the factor of ‖δ‖² per layer over the 1-based layers ``window``
    (and between every two layers), and the correlation of each pair's last pre-activations,
    averaged."""
    p, (batch, width) = stack.points, stack.x.shape
    rows = torch.cat([stack.x, stack.pair]).expand(p, 2 * batch, width).contiguous()
    with torch.no_grad():
        pre, post = forward(stack.weights, stack.biases, rows, act)
        last = pre[-1].double()
        u, v = last[:, :batch], last[:, batch:]
        corr = ((u * v).sum(2) / torch.sqrt(u.square().sum(2) * v.square().sum(2))).mean(1)
        q_last = last[:, :batch].square().mean(dim=(1, 2))
        finite = torch.stack([torch.isfinite(h).all(dim=(1, 2)) for h in post]).all(dim=0)
        logs, _ = backward(stack.weights, [a[:, :batch] for a in pre], [h[:, :batch] for h in post],
                           act, normalise=True, readout=stack.readout)
    first, end = window
    factor = ((logs[first - 1] - logs[end - 1]) / (end - first)).exp()
    ratios = (logs[:-1] - logs[1:]).exp().T  # (P, L−1)
    ok = finite & torch.isfinite(logs).all(dim=0)
    return Measured(
        factor=[finite_or_none(f) if good else None for f, good in zip(factor.tolist(), ok.tolist())],
        layer_factors=[[finite_or_none(r) for r in row] for row in ratios.tolist()],
        corr=[finite_or_none(c) for c in corr.tolist()],
        q_last=[finite_or_none(q) for q in q_last.tolist()],
        finite=[bool(f) for f in finite.tolist()],
    )


def autograd_gap(stack: Stack, act: Activation, idx: Sequence[int]) -> float | None:
    """The batched hand-derived δ's against autograd's on the networks ``idx``: max over layers
    of max|δ − δ_autograd| / max|δ_autograd| (None when nothing finite was compared)."""
    sel = torch.tensor(list(idx), device=stack.x.device)
    weights = [w[sel] for w in stack.weights]
    biases = None if stack.biases is None else [b[sel] for b in stack.biases]
    h0 = stack.x.expand(len(idx), *stack.x.shape).contiguous()
    info = torch.finfo(stack.x.dtype)
    with torch.no_grad():
        pre, post = forward(weights, biases, h0, act)
        _, mine = backward(weights, pre, post, act, normalise=False, readout=stack.readout)
    leaves = [w.detach().clone().requires_grad_(True) for w in weights]
    with torch.enable_grad():
        pre_g, post_g = forward(leaves, biases, h0, act)
        for a in pre_g:
            a.retain_grad()
        loss = (post_g[-1] * stack.readout).sum()
        loss.backward()
    worst: float | None = None
    for a_mine, a_ref in zip(mine, pre_g):
        ref = a_ref.grad
        assert ref is not None
        for j in range(len(idx)):
            r, m = ref[j], a_mine[j]
            if not (bool(torch.isfinite(r).all()) and bool(torch.isfinite(m).all())):
                continue
            scale = max(float(r.abs().max()), float(m.abs().max()), info.tiny / info.eps)
            err = float((m - r).abs().max()) / scale
            worst = err if worst is None else max(worst, err)
    return worst


def held_out(weights: list[Tensor], biases: list[Tensor] | None, act: Activation, x: Tensor,
             t: Tensor, r: Tensor) -> Tensor:
    """Per network: the mean over the held-out samples of (o − t)² (float64, (P,))."""
    with torch.no_grad():
        _, post = forward(weights, biases, x.expand(weights[0].shape[0], *x.shape).contiguous(), act)
        return (post[-1] @ r - t).double().square().mean(-1)


def train_step(weights: list[Tensor], biases: list[Tensor] | None, rows: Tensor, t: Tensor,
               r: Tensor, act: Activation, lr: float) -> list[Tensor]:
    """One step of gradient descent on E = (1/B) Σ_b (h_L,b·r − t_b)² for every network of the
    stack, in place, with the hand-derived gradients: δ_L = (2/B)(o − t) rᵀ ⊙ φ′(a_L),
    ∂E/∂W_k = δ_kᵀ h_k−1, ∂E/∂b_k = Σ_b δ_k, δ_k−1 = (δ_k W_k) ⊙ φ′(a_k−1) (with W_k before
    its update). Returns the weight gradients, input side first."""
    depth = len(weights)
    pre, post = forward(weights, biases, rows, act)
    o = post[-1] @ r
    grad_h = ((2.0 / rows.shape[1]) * (o - t))[:, :, None] * r
    delta = act.backprop_(grad_h, pre[-1], post[-1])
    grads: list[Tensor] = [delta] * depth
    for k in range(depth - 1, -1, -1):
        h_prev = rows if k == 0 else post[k - 1]
        grads[k] = torch.bmm(delta.transpose(1, 2), h_prev)
        grad_b = delta.sum(dim=1) if biases is not None else None
        if k > 0:
            delta = act.backprop_(torch.bmm(delta, weights[k]), pre[k - 1], post[k - 1])
        weights[k].sub_(grads[k], alpha=lr)
        if biases is not None and grad_b is not None:
            biases[k].sub_(grad_b, alpha=lr)
    return grads
