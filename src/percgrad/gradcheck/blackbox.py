"""Central differences through any function of a flat float64 vector θ (a user's function of
tensors for ``percgrad check``, a user's model as a function of its parameters for ``inspect``),
evaluated on stacks of perturbed rows, with as few steps of the ladder as the answer needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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
from percgrad.runtime.progress import Progress

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
    is cheaper than a functional call per row); one with a ``shifted(start, delta)`` method
    also gives f at θ with ``delta`` added from entry ``start`` on, so that a perturbation of
    one tensor never becomes a dense row of θ's length (see Shifts)."""

    def __init__(self, fn: Callable[[Tensor], Tensor], theta: Tensor, magnitude: Tensor | None = None,
                 row_bytes: int = 0, vectorize: bool = True,
                 loop_fn: Callable[[Tensor], Tensor] | None = None,
                 value: Tensor | None = None) -> None:
        self.fn = fn
        self.loop_fn = loop_fn or fn
        self.shifted: Callable[[int, Tensor], Tensor] | None = getattr(loop_fn, "shifted", None)
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

    def values(self, perturbed: Tensor | Shifts) -> Tensor:
        """f of every row (R × N, or R Shifts of θ): R × K."""
        with torch.no_grad():
            if self.mode == "vmap" and len(perturbed) > LOOP_ROWS:
                rows = perturbed if isinstance(perturbed, Tensor) else perturbed.dense(self.theta)
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
            self.rows += len(perturbed)
            if isinstance(perturbed, Shifts) and self.shifted is not None:
                return torch.stack([self._flat(self.shifted(s, d)) for s, d in perturbed])
            rows = perturbed if isinstance(perturbed, Tensor) else perturbed.dense(self.theta)
            return torch.stack([self._flat(self.loop_fn(r)) for r in rows])


@dataclass
class Shifts:
    """Perturbed rows by what they add to θ: row i is θ with ``deltas[i]`` added from entry
    ``starts[i]`` on (the same floating-point sums as a dense row θ + εu)."""

    starts: list[int]
    deltas: list[Tensor]

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[tuple[int, Tensor]]:
        return iter(zip(self.starts, self.deltas))

    def dense(self, theta: Tensor) -> Tensor:
        """Every row as a dense vector: R × N."""
        rows = theta.expand(len(self), -1).clone()
        if len({d.numel() for d in self.deltas}) == 1:  # one index per row and column: no clash
            starts = torch.tensor(self.starts, device=theta.device)[:, None]
            span = starts + torch.arange(self.deltas[0].numel(), device=theta.device)
            rows[torch.arange(len(self), device=theta.device)[:, None], span] += \
                torch.stack(self.deltas)
            return rows
        for i, (start, delta) in enumerate(self):
            rows[i, start:start + delta.numel()] += delta
        return rows


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
    seconds: Tensor
    """|f(θ+εu) + f(θ−εu) − 2f(θ)| / ε per step × item × output (NaN where not taken): the gap
    between the one-sided slopes, so that D ± seconds/2 are the right and left slopes."""
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


Perturb = Callable[[Tensor, float], Tensor | Shifts]
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
    itself either, looks like a kink, or settles on a value the analytic one does not meet, the
    whole ladder."""
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
        if expected is not None:
            # a pair that settles against the analytic value is read again on the whole ladder
            # before it may fail it: two large steps across a kink can agree on a wrong slope
            rough |= keep & ((v - expected[pending].to(v)).abs() > allowed[pending])
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
                               agreed, seconds, obj.mode, obj.rows, obj.stacked)


def entry_differences(obj: FunctionObjective, allowed: Tensor, steps: tuple[float, ...] = STEPS,
                      expected: Tensor | None = None,
                      progress: Progress | None = None) -> BlackBoxDifferences:
    """Every entry of θ: (f(θ+εe_i) − f(θ−εe_i)) / 2ε, divided by the step actually taken
    (θ_i ± ε rounds)."""
    theta = obj.theta

    def perturb(items: Tensor, eps: float) -> Tensor | Shifts:
        n = items.numel()
        if obj.shifted is not None:
            step = torch.full((n, 1), eps, dtype=theta.dtype, device=theta.device)
            return Shifts(items.tolist() * 2, [*step.unbind(0), *(-step).unbind(0)])
        rows = theta.expand(2 * n, -1).clone()
        rows[torch.arange(n), items] += eps
        rows[torch.arange(n, 2 * n), items] -= eps
        return rows

    def step_size(items: Tensor, eps: float) -> Tensor:
        return (theta[items] + eps) - (theta[items] - eps)

    return black_box_differences(obj, perturb, theta.numel(), allowed, steps, step_size, expected,
                                 progress)


def direction_differences(obj: FunctionObjective, units: Tensor | Sequence[tuple[int, Tensor]],
                          allowed: Tensor, steps: tuple[float, ...] = FAST_STEPS,
                          expected: Tensor | None = None,
                          progress: Progress | None = None) -> BlackBoxDifferences:
    """Along unit vectors u: (f(θ+εu) − f(θ−εu)) / 2ε. ``units`` is a D × N matrix, or each u by
    its support, (start, values): u is ``values`` from θ's entry ``start`` on and 0 elsewhere,
    so that a check of many tensors never holds a dense (tensors × parameters) matrix."""
    theta = obj.theta
    supports = [(0, row) for row in units] if isinstance(units, Tensor) else list(units)

    def perturb(items: Tensor, eps: float) -> Tensor | Shifts:
        n = items.numel()
        if obj.shifted is not None:
            picked = [supports[i] for i in items.tolist()]
            plus = [eps * values for _, values in picked]
            return Shifts([start for start, _ in picked] * 2, plus + [-d for d in plus])
        rows = theta.expand(2 * n, -1).clone()
        for r, i in enumerate(items.tolist()):
            start, values = supports[i]
            span = slice(start, start + values.numel())
            rows[r, span] += eps * values
            rows[n + r, span] -= eps * values
        return rows

    def step_size(items: Tensor, eps: float) -> Tensor:
        return torch.full((items.numel(),), 2 * eps, dtype=torch.float64, device=theta.device)

    return black_box_differences(obj, perturb, len(supports), allowed, steps, step_size, expected,
                                 progress)
