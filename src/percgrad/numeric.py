"""Central finite differences in float64: every entry (full), or random directions (fast).

Both perturb many parameters at once: each perturbation is one row of a batched forward pass
that starts at the earliest layer it touches, so a check costs a few batched passes, not two
full passes per parameter. Every difference is taken at a ladder of step sizes and read off
the plateau where neighbouring steps agree best: a fixed step fails both on tiny gradients
(round-off) and on rough, exploding nets (truncation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.backprop import Forward, Gradients, forward
from percgrad.functions import Activation, Loss
from percgrad.net import Net

STEPS = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
"""Step sizes ε of the central difference, largest first (gradcheck uses 1e-6)."""
REFERENCE_STEP = 1e-6
NOISE_ULPS = 64.0
"""Round-off of one loss evaluation, in units of float64 epsilon times |E|."""
CHUNK_BYTES = 48 * 2**20
"""Memory budget of one batched pass of perturbed networks."""
FAST_DIRECTIONS = 3

Progress = Callable[[int, int], None]


@dataclass
class NumericGradients:
    """Finite-difference results; ``full`` fills the matrices, ``fast`` the projections."""

    method: str
    steps: tuple[float, ...]
    loss: float
    """E at the unperturbed parameters (float64)."""
    noise: float
    """Round-off of one difference at the reference step ε = 1e-6 (its resolution)."""
    weights: list[Tensor] | None = None
    biases: list[Tensor | None] | None = None
    weight_spread: list[Tensor] | None = None
    """|D(ε_i) − D(ε_i+1)| at the plateau: how far the finite difference can be trusted."""
    bias_spread: list[Tensor | None] | None = None
    weight_kinks: list[Tensor] | None = None
    """True where the ±ε runs saw a ReLU-type kink flip: the difference is then not a derivative."""
    bias_kinks: list[Tensor | None] | None = None
    projections: Tensor | None = None
    """fast: rows are directions u; columns are uᵀ∇ numeric, then uᵀg for each gradient given."""
    direction_spread: Tensor | None = None
    direction_kinks: Tensor | None = None


@dataclass
class _Segment:
    """A run of perturbed parameters of one layer, in rows [row, row + count) of a chunk."""

    layer: int
    start: int
    count: int
    row: int


def plateau(
    estimates: Tensor, crossed: Tensor, steps: tuple[float, ...], loss_noise: float
) -> tuple[Tensor, Tensor, Tensor]:
    """From differences D(ε) at the ladder of ``steps`` (first dimension, largest first), the
    value of the neighbouring pair with the smallest uncertainty (their mean), that uncertainty
    (their gap plus the round-off ``loss_noise``/ε of the smaller step: two small steps can agree
    by chance while both are off), and where no two neighbouring steps were free of a kink (then
    the middle step's raw difference is kept)."""
    clean = estimates.masked_fill(crossed, float("nan"))
    gaps = torch.nan_to_num((clean[1:] - clean[:-1]).abs(), nan=float("inf"))
    smaller = torch.tensor(steps[1:], dtype=gaps.dtype, device=gaps.device)
    shape = (-1,) + (1,) * (gaps.dim() - 1)
    uncertainty = gaps + loss_noise / smaller.view(shape)
    best = uncertainty.argmin(dim=0, keepdim=True)
    value = 0.5 * (clean[:-1].gather(0, best) + clean[1:].gather(0, best)).squeeze(0)
    spread = uncertainty.gather(0, best).squeeze(0)
    kinked = torch.isinf(spread) & crossed.any(dim=0)
    raw = estimates[estimates.shape[0] // 2]
    return torch.where(kinked, raw, value), spread, kinked


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


Perturb = Callable[[int, _Segment, Tensor, Tensor, Tensor, Tensor, float], None]
"""(layer, segment, a, h_prev, rows_plus, rows_minus, ε): add ±ε·∂a/∂θ to the rows' a."""


def _stacked_affine(h: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """h Wᵀ (+ b) for a stack h of shape (P, batch, in), as one 2-D matmul (batched matmuls of
    many tiny matrices are far slower)."""
    p, batch, n_in = h.shape
    flat = h.reshape(p * batch, n_in)
    a = torch.mm(flat, w.t()) if b is None else torch.addmm(b, flat, w.t())
    return a.view(p, batch, w.shape[0])


def _perturbed_losses(
    net: Net, fwd: Forward, act: Activation, loss: Loss, segments: list[_Segment],
    perturb: Perturb, eps: float,
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
            a = _stacked_affine(h_prev, net.weights[j], net.biases[j])
        for s in by_layer.get(j, ()):
            plus = torch.arange(s.row, s.row + s.count, device=a.device)
            perturb(j, s, a, h_prev, plus, plus + units, eps)
        if act.kink:
            crossed |= ((a > 0) != (fwd.pre[j] > 0)).flatten(1).any(dim=1)
        h_prev = act.value(a)
    values = loss.batched(a, h_prev, net.t)
    return values, crossed


def too_steep(slope: Tensor, num: NumericGradients) -> Tensor:
    """Where a slope is so steep that even the smallest step would move E by more than a tenth
    of max(E, 1): the loss cannot be linear on that scale, so no finite difference can follow
    it (shattered, exploding nets). The 1 keeps a loss near its minimum, where E is tiny but
    smooth, from counting as steep."""
    return slope.abs() * min(num.steps) > 0.1 * max(abs(num.loss), 1.0)


def loss_noise(net: Net, fwd: Forward, act: Activation, loss: Loss) -> float:
    """Round-off of one evaluation of E: ulps of |E| plus the rounding of the output's
    pre-activations carried into E, Σ|∂E/∂a_L|·|a_L| (far larger than ulps of E when the
    output nearly hits its target)."""
    a = fwd.pre[-1].detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(loss.value(a, act.value(a), net.t), a)
    carried = float((g.abs() * a.detach().abs()).sum())
    e = abs(float(fwd.loss))
    return NOISE_ULPS * torch.finfo(torch.float64).eps * max(e + carried, 1e-300)


def full_gradients(
    net: Net, act: Activation, loss: Loss, steps: tuple[float, ...] = STEPS,
    progress: Progress | None = None,
) -> NumericGradients:
    """(E(θ+εe_i) − E(θ−εe_i)) / 2ε for every weight and bias entry; ``net`` must be float64."""
    fwd = forward(net, act, loss)
    counts = _param_counts(net)
    dev = net.x.device
    estimates = [torch.zeros((len(steps), n), dtype=torch.float64, device=dev) for n in counts]
    crossings = [torch.zeros((len(steps), n), dtype=torch.bool, device=dev) for n in counts]

    def perturb(j: int, s: _Segment, a: Tensor, h_prev: Tensor, plus: Tensor, minus: Tensor,
                eps: float) -> None:
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

    total = sum(counts) * len(steps)
    done = 0
    for chunk in _chunks(counts, _units_per_chunk(net)):
        for si, eps in enumerate(steps):
            values, crossed = _perturbed_losses(net, fwd, act, loss, chunk, perturb, eps)
            units = values.shape[0] // 2
            diff = (values[:units] - values[units:]) / (2 * eps)
            kinked = crossed[:units] | crossed[units:]
            for s in chunk:
                part = slice(s.start, s.start + s.count)
                rows = slice(s.row, s.row + s.count)
                estimates[s.layer][si, part] = diff[rows]
                crossings[s.layer][si, part] = kinked[rows]
            done += units
            if progress is not None:
                progress(done, total)

    weights, biases, w_spread, b_spread, w_kinks, b_kinks = [], [], [], [], [], []
    noise = loss_noise(net, fwd, act, loss)
    for est, cross, w, b in zip(estimates, crossings, net.weights, net.biases):
        value, spread, kk = plateau(est, cross, tuple(steps), noise)
        n_w = w.numel()
        weights.append(value[:n_w].view_as(w))
        w_spread.append(spread[:n_w].view_as(w))
        w_kinks.append(kk[:n_w].view_as(w))
        biases.append(None if b is None else value[n_w:])
        b_spread.append(None if b is None else spread[n_w:])
        b_kinks.append(None if b is None else kk[n_w:])
    return NumericGradients(
        "full", tuple(steps), float(fwd.loss), noise / REFERENCE_STEP, weights=weights, biases=biases,
        weight_spread=w_spread, bias_spread=b_spread, weight_kinks=w_kinks, bias_kinks=b_kinks,
    )


def layer_directions(
    net: Net, layer: int, count: int, seed: int, total: int | None = None
) -> tuple[Tensor, Tensor, Tensor | None, float]:
    """Layer ``layer``'s part of ``count`` random unit vectors over all parameters: the weight
    part is c·r sᵀ (r, s random signs, rank one, so that applying it costs a matrix-vector
    product), the bias part c·r_b, with c = 1/√N for N parameters in all. Drawn on the CPU from
    ``seed`` and the layer's index. Returns (r: count×out, s: count×in, r_b or None, c).
    ``total`` (N) is counted when not given."""
    total = sum(_param_counts(net)) if total is None else total
    gen = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + layer)
    w, b = net.weights[layer], net.biases[layer]

    def signs(*shape: int) -> Tensor:
        r = torch.randint(0, 2, shape, generator=gen, dtype=torch.float64)
        return (2 * r - 1).to(w.device)

    n_out, n_in = w.shape
    return signs(count, n_out), signs(count, n_in), None if b is None else signs(count, n_out), \
        total**-0.5


FAST_STEPS = (1e-4, 1e-5, 1e-6, 1e-7)
"""uᵀ∇ along a random unit vector shrinks like ‖∇‖/√N, so the largest step matters here."""


def fast_gradients(
    net: Net,
    act: Activation,
    loss: Loss,
    compare: list[Gradients],
    seed: int,
    count: int = FAST_DIRECTIONS,
    steps: tuple[float, ...] = FAST_STEPS,
) -> NumericGradients:
    """(E(θ+εu) − E(θ−εu)) / 2ε for ``count`` random unit vectors u over all parameters, beside
    uᵀg for each gradient in ``compare``; one batched pass of 2·count·len(steps) networks."""
    fwd = forward(net, act, loss)
    n_steps = len(steps)
    rows = 2 * count * n_steps  # ordered (sign, step, direction)
    a = fwd.pre[0].expand(rows, *fwd.pre[0].shape).clone()
    h_prev = net.x.expand(rows, *net.x.shape)
    crossed = torch.zeros(rows, dtype=torch.bool, device=a.device)
    ladder = torch.tensor(steps, dtype=torch.float64, device=a.device).repeat_interleave(count)
    row_eps = torch.cat([ladder, -ladder])
    table = torch.zeros((count, 1 + len(compare)), dtype=torch.float64, device=a.device)
    reps = 2 * n_steps
    total = sum(_param_counts(net))
    for j in range(net.depth):
        if j > 0:
            a = _stacked_affine(h_prev, net.weights[j], net.biases[j])
        r, s, r_b, c = layer_directions(net, j, count, seed, total)
        r_rows, s_rows = r.repeat(reps, 1), s.repeat(reps, 1)
        # (h Uᵀ)_bi = c·r_i·(h·s): a matrix-vector product per row.
        hs = torch.einsum("pbi,pi->pb", h_prev, s_rows)
        step = c * hs[:, :, None] * r_rows[:, None, :]
        if r_b is not None:
            step += c * r_b.repeat(reps, 1)[:, None, :]
        a = a + row_eps[:, None, None] * step
        for col, grads in enumerate(compare):
            g_w = grads.weights[j].to(torch.float64)
            table[:, 1 + col] += c * ((r @ g_w) * s).sum(dim=1)
            g_b = grads.biases[j]
            if r_b is not None and g_b is not None:
                table[:, 1 + col] += c * (r_b @ g_b.to(torch.float64))
        if act.kink:
            crossed |= ((a > 0) != (fwd.pre[j] > 0)).flatten(1).any(dim=1)
        h_prev = act.value(a)
    values = loss.batched(a, h_prev, net.t)
    half = count * n_steps
    eps = torch.tensor(steps, dtype=torch.float64, device=a.device)[:, None]
    diffs = (values[:half] - values[half:]).view(n_steps, count) / (2 * eps)
    noise = loss_noise(net, fwd, act, loss)
    crossed_pairs = (crossed[:half] | crossed[half:]).view(n_steps, count)
    value, spread, kinked = plateau(diffs, crossed_pairs, tuple(steps), noise)
    table[:, 0] = value
    return NumericGradients(
        "fast", tuple(steps), float(fwd.loss), noise / REFERENCE_STEP, projections=table.cpu(),
        direction_spread=spread.cpu(), direction_kinks=kinked.cpu(),
    )
