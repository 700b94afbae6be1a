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

from percgrad.network.layers import Direction, Edit, Layer, Trace
from percgrad.network.net import Net
from percgrad.network.passes import Forward, Gradients, forward

STEPS = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
"""Step sizes ε of the central difference, largest first (gradcheck uses 1e-6)."""
FAST_STEPS = (1e-4, 1e-5, 1e-6, 1e-7)
"""uᵀ∇ along a random unit vector shrinks like ‖∇‖/√N, so the largest step matters here."""
REFERENCE_STEP = 1e-6
NOISE_ULPS = 64.0
"""Round-off of one loss evaluation, in units of float64 epsilon times |E|."""
CHUNK_BYTES = 48 * 2**20
"""Memory budget of one batched pass of perturbed networks."""
FAST_DIRECTIONS = 3

Progress = Callable[[int, int], None]


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


def too_steep(slope: Tensor, steps: tuple[float, ...], loss: float) -> Tensor:
    """Where a slope is so steep that even the smallest step would move E by more than a tenth
    of max(E, 1): the loss cannot be linear on that scale, so no finite difference can follow
    it (shattered, exploding nets). The 1 keeps a loss near its minimum, where E is tiny but
    smooth, from counting as steep."""
    return slope.abs() * min(steps) > 0.1 * max(abs(loss), 1.0)


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

    def _finish(self, k0: int, h: Tensor,
                step: Callable[[int, Layer, Tensor], Trace]) -> tuple[Tensor, Tensor]:
        """Run layers k0… on the stack ``h``; E per row, and whether a row crossed a kink."""
        crossed = torch.zeros(h.shape[0], dtype=torch.bool, device=h.device)
        tr = None
        for j in range(k0, self.net.depth):
            layer = self.net.layers[j]
            tr = step(j, layer, h)
            if layer.act.kink:
                flipped = (tr.z > 0) != (self.fwd.traces[j].z > 0)
                crossed |= flipped.flatten(1).any(dim=1)
            h = tr.out
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

    def direction_losses(self, dirs: list[Direction], row_eps: Tensor,
                         reps: int) -> tuple[Tensor, Tensor]:
        """E at θ + row_eps[i]·u_(i mod count) for every row i, and kink flags."""
        x = self.net.x
        h = x.expand(row_eps.shape[0], *x.shape)
        by_layer: dict[int, list[Direction]] = {}
        for (k, _), d in zip(self.groups, dirs):
            by_layer.setdefault(k, []).append(d)

        def step(j: int, layer: Layer, h: Tensor) -> Trace:
            if self.fast_paths:
                return layer.directed(h, by_layer[j], row_eps, reps)
            return Layer.directed(layer, h, by_layer[j], row_eps, reps)

        return self._finish(0, h, step)


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
        gen = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + g)

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
) -> FastProjections:
    """(E(θ+εu) − E(θ−εu)) / 2ε for ``count`` random unit vectors u over all parameters, beside
    uᵀg for each gradient in ``compare``; one batched pass of 2·count·len(steps) networks."""
    obj = NetObjective(net, fast_paths)
    dev = net.x.device
    dirs = directions(obj.shapes, count, seed, dev)
    n_steps = len(steps)
    ladder = torch.tensor(steps, dtype=torch.float64, device=dev).repeat_interleave(count)
    row_eps = torch.cat([ladder, -ladder])  # rows ordered (sign, step, direction)
    values, crossed = obj.direction_losses(dirs, row_eps, 2 * n_steps)
    half = count * n_steps
    eps = torch.tensor(steps, dtype=torch.float64, device=dev)[:, None]
    diffs = (values[:half] - values[half:]).view(n_steps, count) / (2 * eps)
    noise = obj.noise()
    crossed_pairs = (crossed[:half] | crossed[half:]).view(n_steps, count)
    value, spread, kinked = plateau(diffs, crossed_pairs, tuple(steps), noise)
    table = torch.stack([value] + [project(dirs, flat_groups(g)) for g in compare], dim=1)
    return FastProjections(tuple(steps), obj.loss, noise / REFERENCE_STEP, table.cpu(),
                           spread.cpu(), kinked.cpu())


# ---------------------------------------------------------------------------------------------
# A black box: the same central differences through any function of a flat float64 vector θ
# (a user's function of tensors for ``percgrad check``, a user's model as a function of its
# parameters for ``percgrad inspect``), evaluated on stacks of perturbed rows.

SETTLE_FRACTION = 0.1
"""A difference that agrees with the analytic value, or whose pair of steps agrees, to within
this fraction of the error allowed needs no further step."""
FIRST_STEP = 1
"""The step tried first (FAST_STEPS and STEPS: 1e-5); FIRST_STEP - 1 (1e-4) makes the pair."""
KINK_NOISE = 10.0
"""A one-sided disagreement counts as a kink only above this many times the round-off."""
MAX_ROWS = 8192
"""At most this many perturbed rows per call of the function."""
LOOP_ROWS = 32
"""Stacks of up to this many rows run in the plain loop: vmap's own cost is then the larger."""


class FunctionObjective:
    """A user's function of a flat float64 vector θ, returning K numbers, evaluated on stacks
    of perturbed rows: ``torch.func.vmap`` where the function allows it, a plain loop where
    not (custom autograd.Functions without ``setup_context``, data-dependent control flow,
    randomness). ``magnitude`` (K numbers: Σ|terms| of each output) sizes its round-off;
    ``row_bytes`` is the memory one evaluation needs beyond its row. ``loop_fn``, when given,
    is the same function for the plain loop (free to write the row into tensors it owns, which
    is cheaper than a functional call per row)."""

    def __init__(self, fn: Callable[[Tensor], Tensor], theta: Tensor, magnitude: Tensor | None = None,
                 row_bytes: int = 0, vectorize: bool = True,
                 loop_fn: Callable[[Tensor], Tensor] | None = None,
                 value: Tensor | None = None) -> None:
        self.fn = fn
        self.loop_fn = loop_fn or fn
        self.theta = theta.detach().to(torch.float64).reshape(-1)
        with torch.no_grad():
            # ``value``: f(θ) as the caller already evaluated it (it counts as the first of
            # the two evaluations that tell whether the function is deterministic)
            first = self._one(self.theta) if value is None else self._flat(value.detach())
            again = self._one(self.theta)
        self.outputs = first.numel()
        mag = first.abs() if magnitude is None else magnitude.to(first).reshape(-1).abs()
        self._noise = NOISE_ULPS * torch.finfo(torch.float64).eps * (first.abs() + mag).clamp_min(1e-300)
        self.row_bytes = 8 * (self.theta.numel() + self.outputs) + max(0, row_bytes)
        self.mode = "vmap" if vectorize else "loop"
        """vmap while stacks may go through torch.func.vmap; loop once the function proved not
        to vectorise (or ``vectorize`` is False)."""
        self._verified = False
        self.rows = 0
        """Perturbed rows evaluated so far."""
        self.stacked = 0
        """Of those, rows evaluated through vmap (the others one call each)."""
        self.base = first
        """f(θ)."""
        self.repeat = (first, again)
        """f(θ) evaluated twice (equal unless the function is not deterministic)."""
        self.deterministic = self._same(first, again)
        """False when two evaluations at θ differ beyond round-off: no difference can judge it."""

    def _same(self, a: Tensor, b: Tensor) -> bool:
        return bool((((a - b).abs() <= self._noise) | (a.isnan() & b.isnan())).all())

    def _one(self, row: Tensor) -> Tensor:
        return self._flat(self.fn(row))

    def _flat(self, out: object) -> Tensor:
        if not isinstance(out, Tensor) or out.dtype != torch.float64:
            out = torch.as_tensor(out).to(torch.float64)
        return out.reshape(-1)

    @property
    def loss(self) -> Tensor:
        """f(θ), K numbers."""
        return self.base

    def noise(self) -> Tensor:
        """Round-off of one evaluation of each output (K numbers)."""
        return self._noise

    def rows_per_chunk(self) -> int:
        """Rows per call within CHUNK_BYTES (even, at least 2)."""
        rows = min(MAX_ROWS, max(2, CHUNK_BYTES // self.row_bytes))
        return rows - rows % 2

    def values(self, rows: Tensor) -> Tensor:
        """f of every row of ``rows`` (R × N): R × K."""
        with torch.no_grad():
            if self.mode == "vmap" and rows.shape[0] > LOOP_ROWS:
                # The first call also evaluates θ, to see that vmap batches the function faithfully.
                stack = rows if self._verified else torch.cat([self.theta[None], rows])
                try:
                    out = torch.func.vmap(self._one, randomness="error")(stack)
                except Exception:  # not vectorisable: the plain loop gives the same values
                    self.mode = "loop"
                else:
                    if not self._verified and not self._same(out[0], self.base):
                        self.mode = "loop"
                    else:
                        self._verified = True
                        self.rows += rows.shape[0]
                        self.stacked += rows.shape[0]
                        return out[stack.shape[0] - rows.shape[0]:]
            self.rows += rows.shape[0]
            return torch.stack([self._flat(self.loop_fn(r)) for r in rows])


@dataclass
class BlackBoxDifferences:
    """Central differences of a FunctionObjective along M unit vectors (entries or directions):
    D(ε) at every step tried, the value kept, and where a kink sits."""

    steps: tuple[float, ...]
    loss: Tensor
    """f(θ), K numbers."""
    noise: Tensor
    """Round-off of one evaluation of each output (K numbers)."""
    estimates: Tensor
    """D(ε) per step × item × output; NaN where a step was not needed."""
    value: Tensor
    """M × K: the differences kept."""
    spread: Tensor
    """M × K: how far each can be trusted (neighbouring steps' gap plus round-off; the
    round-off alone where one step agreed with the analytic value)."""
    kinks: Tensor
    """M × K: the one-sided differences disagree at every step, by an amount that does not
    shrink with ε: the function has a kink there and the difference is not a derivative."""
    agreed: Tensor
    """M × K: kept at the first step, which agreed with the analytic value at once."""
    mode: str
    """vmap (the function vectorises) or loop (it does not)."""
    rows: int
    """Perturbed evaluations made."""
    stacked: int = 0
    """Of those, evaluated through vmap."""

    @property
    def resolution(self) -> Tensor:
        """Round-off of one difference at the reference step ε = 1e-6 (K numbers)."""
        return self.noise / REFERENCE_STEP

    def chosen(self, item: int, output: int = 0) -> int | None:
        """Index of the step kept for one item: the first step where it agreed with the
        analytic value, else the larger step of the pair the plateau settled on (the pair
        whose mean is the value kept); None for a kink."""
        if bool(self.kinks[item, output]):
            return None
        if bool(self.agreed[item, output]):
            return FIRST_STEP
        d = self.estimates[:, item, output]
        means = 0.5 * (d[:-1] + d[1:])
        gaps = torch.nan_to_num((means - self.value[item, output]).abs(), nan=float("inf"))
        return int(gaps.argmin())


Perturb = Callable[[Tensor, float], Tensor]
"""(items, ε) → rows: θ + ε·u_i for every item, then θ − ε·u_i."""


def _evaluate(obj: FunctionObjective, perturb: Perturb, items: Tensor, eps: float,
              step_size: Callable[[Tensor, float], Tensor], done: list[int], total: int,
              progress: Progress | None) -> tuple[Tensor, Tensor]:
    """(f(θ+εu) − f(θ−εu)) / 2ε and the second difference |f₊ + f₋ − 2f(θ)| / ε for ``items``."""
    per_call = max(1, obj.rows_per_chunk() // 2)
    diffs, seconds = [], []
    for start in range(0, items.numel(), per_call):
        part = items[start:start + per_call]
        vals = obj.values(perturb(part, eps))
        n = part.numel()
        plus, minus = vals[:n], vals[n:]
        h = step_size(part, eps)[:, None]
        diffs.append((plus - minus) / h)
        seconds.append((plus + minus - 2 * obj.base).abs() / (0.5 * h))
        done[0] += 2 * n
        if progress is not None:
            progress(done[0], total)
    return torch.cat(diffs), torch.cat(seconds)


def _kinked(second: Tensor, steps: tuple[float, ...], noise: Tensor, allowed: Tensor) -> Tensor:
    """Where the one-sided differences disagree beyond the round-off and the allowed error at
    every step of ``steps`` (S × M × K second differences), by an amount that does not shrink
    with the step (a smooth function's disagreement shrinks in proportion to ε)."""
    eps = torch.tensor(steps, dtype=torch.float64, device=second.device).view(-1, 1, 1)
    above = (second > KINK_NOISE * noise / eps) & (second > allowed)
    flat = second[-1] >= 0.5 * second[-2]
    return above.all(dim=0) & flat


def _plateau(estimates: Tensor, crossed: Tensor, steps: tuple[float, ...],
             noise: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``plateau`` for each of the K outputs (each has its own round-off)."""
    parts = [plateau(estimates[..., k], crossed[..., k], steps, float(noise[k]))
             for k in range(estimates.shape[-1])]
    return tuple(torch.stack([p[i] for p in parts], dim=-1) for i in range(3))  # type: ignore[return-value]


def black_box_differences(obj: FunctionObjective, perturb: Perturb, count: int, allowed: Tensor,
                          steps: tuple[float, ...], step_size: Callable[[Tensor, float], Tensor],
                          expected: Tensor | None = None,
                          progress: Progress | None = None) -> BlackBoxDifferences:
    """Central differences along ``count`` unit vectors, as few steps as the answer needs:
    ``steps[FIRST_STEP]`` for all; where that does not agree with ``expected`` (the analytic
    values, M × K) to SETTLE_FRACTION of ``allowed`` (M × K absolute errors), the pair with
    ``steps[FIRST_STEP - 1]``, read off by ``plateau``; where the pair does not agree with
    itself either, or looks like a kink, the whole ladder."""
    dev = obj.theta.device
    shape = (len(steps), count, obj.outputs)
    estimates = torch.full(shape, float("nan"), dtype=torch.float64, device=dev)
    seconds = torch.full_like(estimates, float("nan"))
    noise = obj.noise()
    done = [0]
    items = torch.arange(count, device=dev)
    total = 2 * count

    def take(si: int, which: Tensor) -> None:
        d, g = _evaluate(obj, perturb, which, steps[si], step_size, done, total, progress)
        estimates[si, which], seconds[si, which] = d, g

    take(FIRST_STEP, items)
    value = estimates[FIRST_STEP].clone()
    spread = (noise / steps[FIRST_STEP]).expand_as(value).clone()
    agreed = torch.zeros_like(value, dtype=torch.bool)
    if expected is not None:
        agreed = (value - expected.to(value)).abs() <= SETTLE_FRACTION * allowed
    kinks = torch.zeros_like(agreed)
    pending = (~agreed.all(dim=1)).nonzero().flatten()
    if pending.numel():
        pair = (steps[FIRST_STEP - 1], steps[FIRST_STEP])
        total += 2 * pending.numel()
        take(FIRST_STEP - 1, pending)
        est = estimates[FIRST_STEP - 1:FIRST_STEP + 1, pending]
        v, sp, _ = _plateau(est, torch.zeros_like(est, dtype=torch.bool), pair, noise)
        suspect = _kinked(seconds[FIRST_STEP - 1:FIRST_STEP + 1, pending], pair, noise,
                          allowed[pending])
        keep = ~agreed[pending]
        value[pending] = torch.where(keep, v, value[pending])
        spread[pending] = torch.where(keep, sp, spread[pending])
        rough = keep & ((sp > SETTLE_FRACTION * allowed[pending]) | suspect)
        rest = pending[rough.any(dim=1)]
        if rest.numel():
            others = [i for i in range(len(steps)) if i not in (FIRST_STEP - 1, FIRST_STEP)]
            total += 2 * rest.numel() * len(others)
            for si in others:
                take(si, rest)
            kinked = _kinked(seconds[:, rest], tuple(steps), noise, allowed[rest])
            crossed = kinked[None].expand(len(steps), -1, -1)
            v, sp, kk = _plateau(estimates[:, rest], crossed, tuple(steps), noise)
            redo = ~agreed[rest]
            value[rest] = torch.where(redo, v, value[rest])
            spread[rest] = torch.where(redo, sp, spread[rest])
            kinks[rest] = redo & kk
    return BlackBoxDifferences(tuple(steps), obj.base, noise, estimates, value, spread, kinks,
                               agreed, obj.mode, obj.rows, obj.stacked)


def entry_differences(obj: FunctionObjective, allowed: Tensor, steps: tuple[float, ...] = STEPS,
                      expected: Tensor | None = None,
                      progress: Progress | None = None) -> BlackBoxDifferences:
    """Every entry of θ: (f(θ+εe_i) − f(θ−εe_i)) / 2ε, divided by the step actually taken
    (θ_i ± ε rounds)."""
    theta = obj.theta

    def perturb(items: Tensor, eps: float) -> Tensor:
        n = items.numel()
        rows = theta.expand(2 * n, -1).clone()
        rows[torch.arange(n), items] += eps
        rows[torch.arange(n, 2 * n), items] -= eps
        return rows

    def step_size(items: Tensor, eps: float) -> Tensor:
        return (theta[items] + eps) - (theta[items] - eps)

    return black_box_differences(obj, perturb, theta.numel(), allowed, steps, step_size, expected,
                                 progress)


def direction_differences(obj: FunctionObjective, units: Tensor, allowed: Tensor,
                          steps: tuple[float, ...] = FAST_STEPS, expected: Tensor | None = None,
                          progress: Progress | None = None) -> BlackBoxDifferences:
    """Along the rows of ``units`` (D × N unit vectors): (f(θ+εu) − f(θ−εu)) / 2ε."""
    theta = obj.theta

    def perturb(items: Tensor, eps: float) -> Tensor:
        u = units[items]
        return torch.cat([theta + eps * u, theta - eps * u])

    def step_size(items: Tensor, eps: float) -> Tensor:
        return torch.full((items.numel(),), 2 * eps, dtype=torch.float64, device=theta.device)

    return black_box_differences(obj, perturb, units.shape[0], allowed, steps, step_size, expected,
                                 progress)
