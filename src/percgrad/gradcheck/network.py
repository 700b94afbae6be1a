"""Central finite differences in float64 over a network's flat parameter vector: every entry
(full), or random directions (fast), through the network's loss, as gradcheck does.

Both evaluate many perturbed copies of the network at once, as rows of one stacked forward
pass that starts at the earliest layer a chunk touches; how a layer moves its output when its
parameters move is the layer's business (``Layer.perturbed`` and ``Layer.directed``: a generic
copy of the parameters per row, or a layer's own cheaper path). Every difference is taken at a
ladder of step sizes and read off the plateau where neighbouring steps agree best: a fixed step
fails both on tiny gradients (round-off) and on rough, exploding nets (truncation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.gradcheck.steps import (
    CHUNK_BYTES,
    FAST_STEPS,
    NOISE_ULPS,
    REFERENCE_STEP,
    STEPS,
    plateau,
)
from percgrad.network.layers import Direction, Edit, Layer, Trace
from percgrad.network.net import Net
from percgrad.network.passes import Forward, Gradients, forward
from percgrad.runtime.progress import Progress, part, throttled, ticker
from percgrad.spec.seeds import stream_seed

FAST_DIRECTIONS = 3


@dataclass
class FullGradients:
    """The full check: a finite difference for every parameter entry, per layer and parameter."""

    steps: tuple[float, ...]
    loss: float
    """E at the unperturbed parameters (float64)."""
    noise: float
    """Round-off of one difference at the reference step ε = 1e-6 (its resolution)."""
    params: list[list[Tensor]]
    spread: list[list[Tensor]]
    """|D(ε_i) − D(ε_i+1)| at the plateau: how far each finite difference can be trusted."""
    kinks: list[list[Tensor]]
    """True where the ±ε runs saw a ReLU-type kink flip: the difference is then not a derivative."""
    names: list[tuple[str, ...]]

    method = "full"

    @property
    def weights(self) -> list[Tensor]:
        """The finite differences of every W_k."""
        return [p[0] for p in self.params]


@dataclass
class FastProjections:
    """The fast check: uᵀ∇ along a few random unit directions u."""

    steps: tuple[float, ...]
    loss: float
    noise: float
    projections: Tensor
    """Rows are directions u; columns are uᵀ∇ numeric, then uᵀg for each gradient compared."""
    spread: Tensor
    kinks: Tensor

    method = "fast"


NumericResult = FullGradients | FastProjections


@dataclass
class _Segment:
    """A run of perturbed entries of one parameter group, in rows [row, row + count) of a chunk."""

    group: int
    start: int
    count: int
    row: int


def _chunks(counts: list[int], per_chunk: int) -> Iterator[list[_Segment]]:
    """Split every group's entries into chunks of at most ``per_chunk``, groups in order."""
    chunk: list[_Segment] = []
    used = 0
    for group, n in enumerate(counts):
        start = 0
        while start < n:
            take = min(n - start, per_chunk - used)
            chunk.append(_Segment(group, start, take, used))
            used += take
            start += take
            if used == per_chunk:
                yield chunk
                chunk, used = [], 0
    if chunk:
        yield chunk


class NetObjective:
    """A network's loss as a function of its flat parameter vector, evaluated on stacks of
    perturbed copies through its layers (``fast_paths`` False: the generic copy per row)."""

    def __init__(self, net: Net, fast_paths: bool = True) -> None:
        self.net = net
        self.fast_paths = fast_paths
        self.fwd: Forward = forward(net)
        self.groups = [(k, p) for k, layer in enumerate(net.layers) for p in range(len(layer.params))]
        self.shapes = [net.layers[k].params[p].shape for k, p in self.groups]
        self.counts = [math.prod(s) for s in self.shapes]

    @property
    def loss(self) -> float:
        """E at the unperturbed parameters."""
        return float(self.fwd.loss)

    def noise(self) -> float:
        """Round-off of one evaluation of E: ulps of |E| plus the rounding of the output's
        logits carried into E, Σ|∂E/∂z|·|z| (far larger than ulps of E when the output nearly
        hits its target)."""
        last = self.fwd.traces[-1]
        act = self.net.layers[-1].act
        z = last.z.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            o = (last.out - act.value(last.z)).detach() + act.value(z)  # a skip stays as it is
            (g,) = torch.autograd.grad(self.net.loss.value(z, o, self.net.t), z)
        carried = float((g.abs() * z.detach().abs()).sum())
        return NOISE_ULPS * torch.finfo(torch.float64).eps * max(abs(self.loss) + carried, 1e-300)

    def units_per_chunk(self) -> int:
        """Perturbed entries per chunk within CHUNK_BYTES (two rows each)."""
        net = self.net
        batch = net.x.shape[0]
        widest = max(max(layer.shape) for layer in net.layers)
        per_row = batch * widest * 8 * 4  # a, h and two temporaries, float64
        if not self.fast_paths or not all(layer.fast for layer in net.layers):
            per_row += max(sum(p.numel() for p in layer.params) for layer in net.layers) * 8
        return max(1, CHUNK_BYTES // (2 * per_row))

    def _trace(self, layer: Layer, h: Tensor, base: Trace | None, edits: list[Edit],
               eps: float) -> Trace:
        if not edits:
            return layer.trace(h, layer.params)
        if self.fast_paths:
            return layer.perturbed(h, base, edits, eps)
        return Layer.perturbed(layer, h, base, edits, eps)

    def _finish(self, k0: int, h: Tensor, step: Callable[[int, Layer, Tensor], Trace],
                progress: Progress | None = None) -> tuple[Tensor, Tensor]:
        """Run layers k0… on the stack ``h``; E per row, and whether a row crossed a kink
        (``progress``: the layers of the stack done)."""
        tick = ticker(progress, self.net.depth - k0)
        crossed = torch.zeros(h.shape[0], dtype=torch.bool, device=h.device)
        tr = None
        for j in range(k0, self.net.depth):
            layer = self.net.layers[j]
            tr = step(j, layer, h)
            if layer.act.kink:
                flipped = (tr.z > 0) != (self.fwd.traces[j].z > 0)
                crossed |= flipped.flatten(1).any(dim=1)
            h = tr.out
            if tick is not None:
                tick(j - k0 + 1)
        assert tr is not None
        return self.net.loss.batched(tr.z, tr.out, self.net.t), crossed

    def entry_losses(self, segments: list[_Segment], eps: float) -> tuple[Tensor, Tensor]:
        """E at θ+εe and θ−εe for every entry of the chunk (plus rows first), and kink flags."""
        units = sum(s.count for s in segments)
        dev = self.net.x.device
        edits: dict[int, list[Edit]] = {}
        for s in segments:
            k, p = self.groups[s.group]
            entries = torch.arange(s.start, s.start + s.count, device=dev)
            rows = torch.arange(s.row, s.row + s.count, device=dev)
            edits.setdefault(k, []).append(Edit(p, entries, rows, units))
        k0 = self.groups[segments[0].group][0]
        h0 = self.fwd.traces[k0].h
        h = h0.expand(2 * units, *h0.shape)

        def step(j: int, layer: Layer, h: Tensor) -> Trace:
            base = self.fwd.traces[j] if j == k0 else None
            return self._trace(layer, h, base, edits.get(j, []), eps)

        return self._finish(k0, h, step)

    def direction_losses(self, dirs: list[Direction], row_eps: Tensor, reps: int,
                         progress: Progress | None = None) -> tuple[Tensor, Tensor]:
        """E at θ + row_eps[i]·u_(i mod count) for every row i, and kink flags (``progress``:
        the layers of the stack done)."""
        x = self.net.x
        h = x.expand(row_eps.shape[0], *x.shape)
        by_layer: dict[int, list[Direction]] = {}
        for (k, _), d in zip(self.groups, dirs):
            by_layer.setdefault(k, []).append(d)

        def step(j: int, layer: Layer, h: Tensor) -> Trace:
            if self.fast_paths:
                return layer.directed(h, by_layer[j], row_eps, reps)
            return Layer.directed(layer, h, by_layer[j], row_eps, reps)

        return self._finish(0, h, step, progress)


def full_gradients(
    net: Net, steps: tuple[float, ...] = STEPS, progress: Progress | None = None,
    fast_paths: bool = True,
) -> FullGradients:
    """(E(θ+εe_i) − E(θ−εe_i)) / 2ε for every parameter entry; ``net`` must be float64."""
    obj = NetObjective(net, fast_paths)
    dev = net.x.device
    estimates = [torch.zeros((len(steps), n), dtype=torch.float64, device=dev) for n in obj.counts]
    crossings = [torch.zeros((len(steps), n), dtype=torch.bool, device=dev) for n in obj.counts]
    total = sum(obj.counts) * len(steps)
    done = 0
    for chunk in _chunks(obj.counts, obj.units_per_chunk()):
        for si, eps in enumerate(steps):
            values, crossed = obj.entry_losses(chunk, eps)
            units = values.shape[0] // 2
            diff = (values[:units] - values[units:]) / (2 * eps)
            kinked = crossed[:units] | crossed[units:]
            for s in chunk:
                part = slice(s.start, s.start + s.count)
                rows = slice(s.row, s.row + s.count)
                estimates[s.group][si, part] = diff[rows]
                crossings[s.group][si, part] = kinked[rows]
            done += units
            if progress is not None:
                progress(done, total)
    noise = obj.noise()
    params: list[list[Tensor]] = [[] for _ in net.layers]
    spread: list[list[Tensor]] = [[] for _ in net.layers]
    kinks: list[list[Tensor]] = [[] for _ in net.layers]
    for (k, _), shape, est, cross in zip(obj.groups, obj.shapes, estimates, crossings):
        value, sp, kk = plateau(est, cross, tuple(steps), noise)
        params[k].append(value.view(shape))
        spread[k].append(sp.view(shape))
        kinks[k].append(kk.view(shape))
    return FullGradients(tuple(steps), obj.loss, noise / REFERENCE_STEP, params, spread, kinks,
                         [layer.names for layer in net.layers])


def directions(shapes: list[torch.Size], count: int, seed: int,
               device: torch.device | str) -> list[Direction]:
    """``count`` random unit vectors over all parameters, each parameter's part c·r sᵀ (r, s
    random signs, rank one, so that applying it costs a matrix-vector product) or c·r for a
    vector, with c = 1/√N for N parameters in all. Drawn on the CPU from ``seed`` and the
    parameter's position, so every device sees the same directions."""
    c = sum(math.prod(s) for s in shapes) ** -0.5
    out = []
    for g, shape in enumerate(shapes):
        gen = torch.Generator(device="cpu").manual_seed(stream_seed(seed, g))

        def signs(*size: int, gen: torch.Generator = gen) -> Tensor:
            r = torch.randint(0, 2, size, generator=gen, dtype=torch.float64)
            return (2 * r - 1).to(device)

        if len(shape) >= 2:
            out.append(Direction(signs(count, shape[0]), signs(count, math.prod(shape[1:])), c))
        else:
            out.append(Direction(signs(count, max(1, math.prod(shape))), None, c))
    return out


def project(dirs: list[Direction], grads: list[Tensor]) -> Tensor:
    """uᵀg for every direction, g given per parameter group (in float64)."""
    total = torch.zeros(dirs[0].r.shape[0], dtype=torch.float64, device=dirs[0].r.device)
    for d, g in zip(dirs, grads):
        g64 = g.detach().to(device=total.device, dtype=torch.float64)
        if d.s is None:
            total += d.c * (d.r @ g64.reshape(-1))
        else:
            total += d.c * ((d.r @ g64.reshape(g64.shape[0], -1)) * d.s).sum(dim=1)
    return total


def flat_groups(grads: Gradients) -> list[Tensor]:
    """A Gradients' tensors in the parameter order of the network."""
    return [g for layer in grads.params for g in layer]


def fast_gradients(
    net: Net,
    compare: list[Gradients],
    seed: int,
    count: int = FAST_DIRECTIONS,
    steps: tuple[float, ...] = FAST_STEPS,
    fast_paths: bool = True,
    progress: Progress | None = None,
) -> FastProjections:
    """(E(θ+εu) − E(θ−εu)) / 2ε for ``count`` random unit vectors u over all parameters, beside
    uᵀg for each gradient in ``compare``; one batched pass of 2·count·len(steps) networks
    (``progress``: its layers, then one step for the plateau and the projections)."""
    total = net.depth + 1
    progress = throttled(progress)
    if progress is not None:
        progress(0, total)
    obj = NetObjective(net, fast_paths)
    dev = net.x.device
    dirs = directions(obj.shapes, count, seed, dev)
    n_steps = len(steps)
    ladder = torch.tensor(steps, dtype=torch.float64, device=dev).repeat_interleave(count)
    row_eps = torch.cat([ladder, -ladder])  # rows ordered (sign, step, direction)
    values, crossed = obj.direction_losses(dirs, row_eps, 2 * n_steps,
                                           part(progress, 0, net.depth, total))
    half = count * n_steps
    eps = torch.tensor(steps, dtype=torch.float64, device=dev)[:, None]
    diffs = (values[:half] - values[half:]).view(n_steps, count) / (2 * eps)
    noise = obj.noise()
    crossed_pairs = (crossed[:half] | crossed[half:]).view(n_steps, count)
    value, spread, kinked = plateau(diffs, crossed_pairs, tuple(steps), noise)
    table = torch.stack([value] + [project(dirs, flat_groups(g)) for g in compare], dim=1)
    if progress is not None:
        progress(total, total)
    return FastProjections(tuple(steps), obj.loss, noise / REFERENCE_STEP, table.cpu(),
                           spread.cpu(), kinked.cpu())
