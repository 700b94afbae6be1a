"""Central finite differences in float64: every entry (full), or random directions (fast).

Both perturb many parameters at once: each perturbation is one row of a batched forward pass
that starts at the earliest layer it touches, so a check costs a few batched passes, not two
full passes per parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.backprop import Forward, Gradients, forward
from percgrad.functions import Activation, Loss
from percgrad.net import Net

EPS = 1e-6
"""Step of the central difference (that of torch.autograd.gradcheck)."""
NOISE_ULPS = 64.0
"""Round-off of one loss evaluation, in units of float64 epsilon times |E|."""
CHUNK_BYTES = 48 * 2**20
"""Memory budget of one batched pass of perturbed networks."""
FAST_DIRECTIONS = 4

Progress = Callable[[int, int], None]


@dataclass
class NumericGradients:
    """Finite-difference results; ``full`` fills the matrices, ``fast`` the projections."""

    method: str
    eps: float
    noise: float
    """Estimated absolute error of one finite-difference value (its resolution)."""
    weights: list[Tensor] | None = None
    biases: list[Tensor | None] | None = None
    weight_kinks: list[Tensor] | None = None
    """True where the ±ε runs saw a ReLU-type kink flip: the difference is then not a derivative."""
    bias_kinks: list[Tensor | None] | None = None
    projections: Tensor | None = None
    """fast: rows are directions u; columns are uᵀ∇ numeric, then uᵀg for each gradient given."""
    direction_kinks: Tensor | None = None


@dataclass
class _Segment:
    """A run of perturbed parameters of one layer, in rows [row, row + count) of a chunk."""

    layer: int
    start: int
    count: int
    row: int


def _param_counts(net: Net) -> list[int]:
    return [w.numel() + (0 if b is None else b.numel()) for w, b in zip(net.weights, net.biases)]


def _chunks(counts: list[int], per_chunk: int) -> Iterator[list[_Segment]]:
    """Split every layer's units into chunks of at most ``per_chunk``, layers in order."""
    chunk: list[_Segment] = []
    used = 0
    for layer, n in enumerate(counts):
        start = 0
        while start < n:
            take = min(n - start, per_chunk - used)
            chunk.append(_Segment(layer, start, take, used))
            used += take
            start += take
            if used == per_chunk:
                yield chunk
                chunk, used = [], 0
    if chunk:
        yield chunk


def _units_per_chunk(net: Net) -> int:
    batch = net.x.shape[0]
    widest = max(max(w.shape) for w in net.weights)
    per_row = batch * widest * 8 * 4  # a, h and two temporaries, float64
    return max(1, CHUNK_BYTES // (2 * per_row))


Perturb = Callable[[int, _Segment, Tensor, Tensor, Tensor, Tensor], None]
"""(layer, segment, a, h_prev, rows_plus, rows_minus): add ±ε·(∂a/∂θ) to the rows' a in place."""


def _perturbed_losses(
    net: Net, fwd: Forward, act: Activation, loss: Loss, segments: list[_Segment], perturb: Perturb
) -> tuple[Tensor, Tensor]:
    """E at θ+εe and θ−εe for every unit of the chunk, and whether a kink was crossed."""
    units = sum(s.count for s in segments)
    rows = 2 * units
    k0 = segments[0].layer
    batch = net.x.shape[0]
    by_layer: dict[int, list[_Segment]] = {}
    for s in segments:
        by_layer.setdefault(s.layer, []).append(s)
    a = fwd.pre[k0].expand(rows, *fwd.pre[k0].shape).clone()
    h_prev = (net.x if k0 == 0 else fwd.post[k0 - 1]).expand(rows, batch, -1)
    crossed = torch.zeros(rows, dtype=torch.bool, device=a.device)
    for j in range(k0, net.depth):
        if j > k0:
            a = torch.matmul(h_prev, net.weights[j].t())
            b = net.biases[j]
            if b is not None:
                a.add_(b)
        for s in by_layer.get(j, ()):
            plus = torch.arange(s.row, s.row + s.count, device=a.device)
            perturb(j, s, a, h_prev, plus, plus + units)
        if act.kink:
            crossed |= ((a > 0) != (fwd.pre[j] > 0)).flatten(1).any(dim=1)
        h_prev = act.value(a)
    values = loss.batched(a, h_prev, net.t)
    return values, crossed


def _noise(fwd: Forward, eps: float) -> float:
    e = abs(float(fwd.loss))
    return NOISE_ULPS * torch.finfo(torch.float64).eps * max(e, 1e-300) / eps


def full_gradients(
    net: Net, act: Activation, loss: Loss, eps: float = EPS, progress: Progress | None = None
) -> NumericGradients:
    """(E(θ+εe_i) − E(θ−εe_i)) / 2ε for every weight and bias entry; ``net`` must be float64."""
    fwd = forward(net, act, loss)
    counts = _param_counts(net)
    flat = [torch.zeros(n, dtype=torch.float64, device=net.x.device) for n in counts]
    kinks = [torch.zeros(n, dtype=torch.bool, device=net.x.device) for n in counts]

    def perturb(j: int, s: _Segment, a: Tensor, h_prev: Tensor, plus: Tensor, minus: Tensor) -> None:
        n_out, n_in = net.weights[j].shape
        local = torch.arange(s.start, s.start + s.count, device=a.device)
        is_w = local < n_out * n_in
        lw = local[is_w]
        if lw.numel():
            i, col = lw // n_in, lw % n_in
            step = eps * h_prev[plus[is_w], :, col]  # (units, batch): ∂a_i/∂W_ij = h_j
            a[plus[is_w], :, i] += step
            a[minus[is_w], :, i] -= step
        lb = local[~is_w]
        if lb.numel():
            i = lb - n_out * n_in
            a[plus[~is_w], :, i] += eps
            a[minus[~is_w], :, i] -= eps

    total = sum(counts)
    done = 0
    for chunk in _chunks(counts, _units_per_chunk(net)):
        values, crossed = _perturbed_losses(net, fwd, act, loss, chunk, perturb)
        units = values.shape[0] // 2
        diff = (values[:units] - values[units:]) / (2 * eps)
        kinked = crossed[:units] | crossed[units:]
        for s in chunk:
            flat[s.layer][s.start : s.start + s.count] = diff[s.row : s.row + s.count]
            kinks[s.layer][s.start : s.start + s.count] = kinked[s.row : s.row + s.count]
        done += units
        if progress is not None:
            progress(done, total)

    weights, biases, w_kinks, b_kinks = [], [], [], []
    for g, kk, w, b in zip(flat, kinks, net.weights, net.biases):
        n_w = w.numel()
        weights.append(g[:n_w].view_as(w))
        w_kinks.append(kk[:n_w].view_as(w))
        biases.append(None if b is None else g[n_w:])
        b_kinks.append(None if b is None else kk[n_w:])
    return NumericGradients(
        "full", eps, _noise(fwd, eps), weights=weights, biases=biases,
        weight_kinks=w_kinks, bias_kinks=b_kinks,
    )


def layer_directions(
    net: Net, layer: int, count: int, seed: int
) -> tuple[Tensor, Tensor | None]:
    """Layer ``layer``'s part of ``count`` random unit vectors over all parameters: entries
    ±1/√N (N parameters in all), drawn on the CPU from ``seed`` and the layer's index."""
    total = sum(_param_counts(net))
    gen = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + layer)
    w, b = net.weights[layer], net.biases[layer]

    def signs(shape: tuple[int, ...]) -> Tensor:
        r = torch.randint(0, 2, shape, generator=gen, dtype=torch.float64)
        return ((2 * r - 1) / total**0.5).to(w.device)

    u_w = signs((count, *w.shape))
    return u_w, None if b is None else signs((count, *b.shape))


def fast_gradients(
    net: Net,
    act: Activation,
    loss: Loss,
    compare: list[Gradients],
    seed: int,
    count: int = FAST_DIRECTIONS,
    eps: float = EPS,
) -> NumericGradients:
    """(E(θ+εu) − E(θ−εu)) / 2ε for ``count`` random unit vectors u over all parameters, beside
    uᵀg for each gradient in ``compare``; one batched pass of 2·count networks."""
    fwd = forward(net, act, loss)
    rows = 2 * count
    a = fwd.pre[0].expand(rows, *fwd.pre[0].shape).clone()
    h_prev = net.x.expand(rows, *net.x.shape)
    crossed = torch.zeros(rows, dtype=torch.bool, device=a.device)
    signs = torch.cat([torch.ones(count), -torch.ones(count)]).to(a.device, torch.float64)
    table = torch.zeros((count, 1 + len(compare)), dtype=torch.float64, device=a.device)
    for j in range(net.depth):
        if j > 0:
            a = torch.matmul(h_prev, net.weights[j].t())
            b = net.biases[j]
            if b is not None:
                a.add_(b)
        u_w, u_b = layer_directions(net, j, count, seed)
        step = torch.matmul(h_prev, u_w.repeat(2, 1, 1).transpose(1, 2))  # (rows, batch, out)
        if u_b is not None:
            step += u_b.repeat(2, 1)[:, None, :]
        a = a + (eps * signs)[:, None, None] * step
        for c, grads in enumerate(compare):
            g_w = grads.weights[j].to(torch.float64)
            table[:, 1 + c] += (u_w * g_w).sum(dim=(1, 2))
            g_b = grads.biases[j]
            if u_b is not None and g_b is not None:
                table[:, 1 + c] += u_b @ g_b.to(torch.float64)
        if act.kink:
            crossed |= ((a > 0) != (fwd.pre[j] > 0)).flatten(1).any(dim=1)
        h_prev = act.value(a)
    values = loss.batched(a, h_prev, net.t)
    table[:, 0] = (values[:count] - values[count:]) / (2 * eps)
    return NumericGradients(
        "fast", eps, _noise(fwd, eps), projections=table.cpu(),
        direction_kinks=(crossed[:count] | crossed[count:]).cpu(),
    )
