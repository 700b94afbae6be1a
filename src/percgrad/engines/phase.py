"""``phase``: the order-to-chaos phase diagram. Every point of a σ_w² × σ_b² grid is a deep
chain with meanfield init, and all of them run as one stack of networks (``torch.bmm`` over
the grid dimension, on CUDA when present): the per-layer factor of ‖δ‖² over the middle layers
and the correlation of two inputs are measured beside the mean-field predictions (q*, χ₁, ξ,
c*, the critical line χ₁ = 1), and optionally every network is trained on a fixed task.

Every grid point draws its network from the same ``--seed``, in the order ``build_net`` draws
it, so point (σ_w², σ_b²) is exactly ``percgrad vanish --init meanfield --sigma-w2 σ_w²
--sigma-b2 σ_b² --depth L --width N --batch B --seed S``; neighbouring points then differ only in
their σ's (common random numbers), which keeps the measured critical line smooth.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from percgrad.errors import PercgradError
from percgrad.network.functions import Activation, activation
from percgrad.reports.phase import (
    PAIR_CORRELATION,
    TRAINABLE_DEPTHS,
    TRAINED_FRACTION,
    CriticalPoint,
    PhaseCheck,
    PhasePoint,
    PhaseReport,
    PhaseSpec,
    TrainingInfo,
)
from percgrad.runtime.device import (
    DTYPES,
    available_bytes,
    check_dtype,
    device_info,
    resolve_device,
    synchronize,
)
from percgrad.runtime.memory import HEADROOM, human
from percgrad.theory.flow import depth_scale
from percgrad.theory.meanfield import predict
from percgrad.theory.phase import (
    chi1,
    correlation_depth,
    critical_sigma_w2,
    fixed_point_c,
    fixed_point_q,
)
from percgrad.version import __version__

Progress = Callable[[int, int], None]
TARGET = 1.0
"""vanish's default target: E = (1/n) Σ (o − 1)²."""
CHECKED_POINTS = 3
TRAIN_BATCH, TEST_BATCH = 64, 256
TASK_DIMS = 8


@dataclass
class Stack:
    """P networks of L layers of width N: W_k stacked (P, N, N), b_k stacked (P, N) (zero
    where σ_b² = 0, which adds exactly nothing), the batch x (B, N) they share, and the second
    inputs paired with them (B, N): pair[b] has correlation 0.5 with x[b] (in expectation)."""

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


def grid_points(spec: PhaseSpec) -> list[tuple[float, float]]:
    """(σ_w², σ_b²) of every network, row-major: σ_b² outer, σ_w² inner."""
    return [(w, b) for b in spec.sigma_b2 for w in spec.sigma_w2]


def estimate(spec: PhaseSpec) -> dict[str, int]:
    """Bytes the sweep needs, by purpose: the whole stack's weights and biases, its stored
    activations, the backward's buffers, the draw's float64 scratch, and training's own."""
    size = 8 if spec.dtype == "float64" else 4
    p, n, depth, rows = spec.points, spec.width, spec.depth, spec.batch + 1
    est = {
        "weights": p * depth * (n * n + n) * size,
        "activations": 2 * p * depth * 2 * rows * n * size,
        "backward": 4 * p * rows * n * size + 8 * p * depth * 2,
        "draw": 2 * n * n * (8 + size),
    }
    if spec.train_steps:
        t_rows = TRAIN_BATCH + TEST_BATCH
        est["training"] = (2 * p * depth * t_rows * n * size + p * (n * n + n) * size
                           + 2 * p * t_rows * n * size)
    return est


def guard(spec: PhaseSpec, device: torch.device) -> None:
    """Refuse a sweep whose whole stack would not fit: --max-memory, or the free memory."""
    est = estimate(spec)
    total = sum(est.values())
    free = available_bytes(device)
    budget = spec.max_memory if spec.max_memory is not None else (
        None if free is None else int(free * HEADROOM))
    if budget is None or total <= budget:
        return
    parts = ", ".join(f"{k} {human(v)}" for k, v in est.items() if v)
    source = (f"--max-memory is {human(spec.max_memory)}" if spec.max_memory is not None
              else f"{human(budget)} is free on {device}")
    raise PercgradError(
        f"this sweep of {spec.points:,} networks needs about {human(total)} ({parts}) but "
        f"{source}; use a coarser grid (--sigma-w2, --sigma-b2), a smaller --depth, --width or "
        "--batch, or set --max-memory")


def draw_stack(spec: PhaseSpec, device: torch.device, dtype: torch.dtype) -> Stack:
    """Every point's network, drawn as ``build_net`` draws vanish's from the same seed: x, then
    per layer W ~ N(0, σ_w²/N) and, where σ_b² > 0, b ~ N(0, σ_b²). The standard normals are
    drawn in float64 on the CPU once per bias pattern (the σ_b² = 0 row draws no biases, so its
    stream differs), then cast, moved, and scaled per point in the compute dtype: the same
    numbers as vanish's up to that dtype's round-off of σ·z."""
    n, depth, points = spec.width, spec.depth, grid_points(spec)
    p = len(points)
    cols = len(spec.sigma_w2)
    split = cols if spec.sigma_b2[0] == 0 else 0  # the grid is sorted: only row 0 can be σ_b² = 0
    ranges = [(has, lo, hi) for has, lo, hi in ((False, 0, split), (True, split, p)) if hi > lo]
    gens = {has: torch.Generator(device="cpu").manual_seed(spec.seed) for has, _, _ in ranges}
    xs = {has: torch.randn((spec.batch, n), generator=g, dtype=torch.float64) for has, g in gens.items()}
    x = next(iter(xs.values()))
    pair_gen = torch.Generator(device="cpu").manual_seed(spec.seed + 1)
    noise = torch.randn((spec.batch, n), generator=pair_gen, dtype=torch.float64)
    pair = PAIR_CORRELATION * x + math.sqrt(1.0 - PAIR_CORRELATION**2) * noise
    readout = torch.randn((spec.batch, n), generator=pair_gen, dtype=torch.float64)
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


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def measure(stack: Stack, act: Activation, spec: PhaseSpec) -> Measured:
    """Forward the batch and its paired inputs through every network, then the normalised
    backward of the batch; the correlation of each pair's last pre-activations, averaged."""
    p, batch = stack.points, spec.batch
    rows = torch.cat([stack.x, stack.pair]).expand(p, 2 * batch, spec.width).contiguous()
    with torch.no_grad():
        pre, post = forward(stack.weights, stack.biases, rows, act)
        last = pre[-1].double()
        u, v = last[:, :batch], last[:, batch:]
        corr = ((u * v).sum(2) / torch.sqrt(u.square().sum(2) * v.square().sum(2))).mean(1)
        q_last = last[:, :batch].square().mean(dim=(1, 2))
        finite = torch.stack([torch.isfinite(h).all(dim=(1, 2)) for h in post]).all(dim=0)
        logs, _ = backward(stack.weights, [a[:, :batch] for a in pre], [h[:, :batch] for h in post],
                           act, normalise=True, readout=stack.readout)
    first, end = spec.window
    window = ((logs[first - 1] - logs[end - 1]) / (end - first)).exp()
    ratios = (logs[:-1] - logs[1:]).exp().T  # (P, L−1)
    ok = finite & torch.isfinite(logs).all(dim=0)
    return Measured(
        factor=[_finite(float(f)) if good else None for f, good in zip(window.tolist(), ok.tolist())],
        layer_factors=[[_finite(r) for r in row] for row in ratios.tolist()],
        corr=[_finite(c) for c in corr.tolist()],
        q_last=[_finite(q) for q in q_last.tolist()],
        finite=[bool(f) for f in finite.tolist()],
    )


def check_points(stack: Stack, act: Activation, spec: PhaseSpec) -> PhaseCheck:
    """The batched hand-derived δ's against autograd's on a few networks (the grid's first,
    middle and last): max over layers of max|δ − δ_autograd| / max|δ_autograd|."""
    p = stack.points
    idx = sorted({0, p // 2, p - 1})[:CHECKED_POINTS]
    sel = torch.tensor(idx, device=stack.x.device)
    weights = [w[sel] for w in stack.weights]
    biases = None if stack.biases is None else [b[sel] for b in stack.biases]
    h0 = stack.x.expand(len(idx), *stack.x.shape).contiguous()
    tol = 1e-6 if spec.dtype == "float64" else 1e-3
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
    passed = None if worst is None else worst <= tol
    return PhaseCheck(idx, worst, tol, passed)


def _geometric(values: list[float]) -> float | None:
    good = [v for v in values if v > 0 and math.isfinite(v)]
    if len(good) != len(values) or not good:
        return None
    return math.exp(sum(math.log(v) for v in good) / len(good))


def theory_points(spec: PhaseSpec, stack: Stack, progress: Progress | None = None,
                  done: int = 0, total: int = 0) -> list[dict[str, float | None]]:
    """Per network: q*, χ₁, ξ, c*, the finite-depth factor over the window, and the two-input
    recursion's correlation at the last layer, from the real inputs."""
    x = stack.x.detach().to("cpu", torch.float64)
    pair = stack.pair.detach().to("cpu", torch.float64)
    n = spec.width
    q_in = float(x.square().mean())
    # The pairs' mean statistics (their spread from pair to pair is O(1/√N)).
    sq_a, sq_b = float(x.square().sum(1).mean()) / n, float(pair.square().sum(1).mean()) / n
    cross = float((x * pair).sum(1).mean()) / n
    first, end = spec.window
    out: list[dict[str, float | None]] = []
    for i, (w, b) in enumerate(grid_points(spec)):
        th = predict(spec.activation, [w] * spec.depth, [b] * spec.depth, q_in)
        q_star = fixed_point_q(spec.activation, w, b, th.q[-1] if math.isfinite(th.q[-1]) else 1.0)
        c1 = chi1(spec.activation, w, b, q_star)
        q1, q2 = w * sq_a + b, w * sq_b + b
        c_in = (w * cross + b) / math.sqrt(q1 * q2) if q1 > 0 and q2 > 0 else math.nan
        try:
            c_last: float | None = correlation_depth(spec.activation, w, b, q1, q2, c_in,
                                                     spec.depth)[-1]
        except (FloatingPointError, ValueError, OverflowError):
            c_last = None
        out.append({
            "q_star": q_star,
            "chi1": c1,
            "xi": depth_scale(c1).layers,
            "c_star": fixed_point_c(spec.activation, w, b, q_star),
            "predicted_factor": _geometric(th.chi[first - 1:end - 1]),
            "predicted_c": None if c_last is None or not math.isfinite(c_last) else c_last,
        })
        if progress is not None:
            progress(done + i + 1, total)
    return out


def measured_crossing(sigma_w2: list[float], factors: list[float | None]) -> float | None:
    """The σ_w² where the measured factor first crosses 1 from below, linear in ln(factor)
    between neighbouring grid points; None when it does not within the grid."""
    for (s0, f0), (s1, f1) in itertools.pairwise(zip(sigma_w2, factors)):
        if f0 is None or f1 is None:
            continue
        l0, l1 = math.log(f0), math.log(f1)
        if l0 < 0 <= l1:
            return s0 + (s1 - s0) * (-l0) / (l1 - l0)
    return None


def grid_step(sigma_w2: list[float], value: float | None) -> float | None:
    """The spacing of the grid values around ``value`` (None outside the grid)."""
    if value is None:
        return None
    for s0, s1 in itertools.pairwise(sigma_w2):
        if s0 <= value <= s1:
            return s1 - s0
    return None


def critical_lines(spec: PhaseSpec, measured: list[float | None]) -> list[CriticalPoint]:
    """Per σ_b²: the predicted critical σ_w² (χ₁ = 1) and the measured one."""
    w_grid = list(spec.sigma_w2)
    cols = len(w_grid)
    rows = []
    for i_b, b in enumerate(spec.sigma_b2):
        predicted = critical_sigma_w2(spec.activation, b)
        crossing = measured_crossing(w_grid, measured[i_b * cols:(i_b + 1) * cols])
        rows.append(CriticalPoint(b, predicted, crossing, grid_step(w_grid, predicted)))
    return rows


def run_phase(spec: PhaseSpec, progress: Progress | None = None) -> PhaseReport:
    """The sweep: draw the stack, measure, check against autograd, predict, (train), report."""
    device = resolve_device(spec.device)
    dtype = DTYPES[spec.dtype]
    check_dtype(device, dtype)
    guard(spec, device)
    act = activation(spec.activation)
    timing: dict[str, float] = {}
    total = spec.points + (spec.train_steps or 0)
    start = time.perf_counter()
    stack = draw_stack(spec, device, dtype)
    synchronize(device)
    timing["draw_s"] = time.perf_counter() - start
    t0 = time.perf_counter()
    got = measure(stack, act, spec)
    synchronize(device)
    timing["measure_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    check = check_points(stack, act, spec)
    timing["check_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    theory = theory_points(spec, stack, progress, 0, total)
    critical = critical_lines(spec, got.factor)
    timing["theory_s"] = time.perf_counter() - t0
    points = []
    for i, ((w, b), th) in enumerate(zip(grid_points(spec), theory)):
        factor = got.factor[i]
        points.append(PhasePoint(
            sigma_w2=w, sigma_b2=b, q_star=float(th["q_star"] or 0.0), chi1=float(th["chi1"] or math.nan),
            xi=th["xi"], c_star=th["c_star"], predicted_factor=th["predicted_factor"],
            predicted_c=th["predicted_c"], measured_factor=factor,
            measured_xi=depth_scale(factor).layers, measured_c=got.corr[i], measured_q=got.q_last[i],
            layer_factors=got.layer_factors[i], finite=got.finite[i],
        ))
    training = None
    if spec.train_steps:
        t0 = time.perf_counter()
        training = train_stack(stack, act, spec, points, progress, spec.points, total)
        timing["train_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - start
    ratios = [r for r in (pt.ratio for pt in points) if r is not None]
    warnings = []
    bad = sum(not pt.finite for pt in points)
    if bad:
        warnings.append(f"{bad} of {len(points)} networks overflowed (non-finite values): their "
                        "measurements are left out")
    return PhaseReport(
        version=__version__, settings=_settings(spec, device), device=device_info(device),
        sigma_w2=list(spec.sigma_w2), sigma_b2=list(spec.sigma_b2), window=spec.window,
        points=points, critical=critical, check=check,
        median_ratio=statistics.median(ratios) if ratios else None, training=training,
        timing=timing, warnings=warnings,
    )


def _task(spec: PhaseSpec, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, ...]:
    """The fixed synthetic task: inputs on a random TASK_DIMS-dimensional subspace,
    x = √(N/d)·z Uᵀ with z ~ N(0, I_d) and U orthonormal (so E[x_i²] = 1 as for the sweep),
    targets t = z·v/‖v‖ of a random linear teacher, and the chain read out by o = h_L·r,
    r ~ N(0, 1/N) fixed: (x_train, t_train, x_test, t_test, r)."""
    n, d = spec.width, min(TASK_DIMS, spec.width)
    gen = torch.Generator(device="cpu").manual_seed(spec.seed + 3)
    basis, _ = torch.linalg.qr(torch.randn((n, d), generator=gen, dtype=torch.float64))
    v = torch.randn(d, generator=gen, dtype=torch.float64)
    r = torch.randn(n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    out = []
    for rows in (TRAIN_BATCH, TEST_BATCH):
        z = torch.randn((rows, d), generator=gen, dtype=torch.float64)
        out += [math.sqrt(n / d) * z @ basis.t(), z @ v / v.norm()]
    return tuple(t.to(device=device, dtype=dtype) for t in (*out, r))


def _held_out(weights: list[Tensor], biases: list[Tensor] | None, act: Activation, x: Tensor,
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


def train_stack(stack: Stack, act: Activation, spec: PhaseSpec, points: list[PhasePoint],
                progress: Progress | None = None, done: int = 0, total: int = 0) -> TrainingInfo:
    """Plain full-batch gradient descent on every network of the stack at once,
    E = (1/B) Σ_b (h_L,b·r − t_b)² on the task's training batch, with the hand-derived gradients
    (δ_L = (2/B)(o − t) rᵀ ⊙ φ′(a_L), ∂E/∂W_k = δ_kᵀ h_k−1, ∂E/∂b_k = Σ_b δ_k); each point then
    gets its held-out loss before and after, as a fraction of that of the best constant output
    (Var t), whether it trained, and the prediction depth ≤ 6ξ. Trains the stack in place."""
    device, dtype = stack.x.device, stack.x.dtype
    x_train, t_train, x_test, t_test, r = _task(spec, device, dtype)
    p = stack.points
    weights, biases = stack.weights, stack.biases
    baseline = float(t_test.double().var(unbiased=False))
    before = _held_out(weights, biases, act, x_test, t_test, r) / baseline
    rows = x_train.expand(p, *x_train.shape).contiguous()
    for step in range(spec.train_steps):
        with torch.no_grad():
            train_step(weights, biases, rows, t_train, r, act, spec.lr)
        if progress is not None:
            progress(done + step + 1, total)
    after = _held_out(weights, biases, act, x_test, t_test, r) / baseline
    agree = []
    for pt, b, a in zip(points, before.tolist(), after.tolist()):
        pt.loss_start = _finite(b)
        pt.loss_end = _finite(a)
        pt.trained = pt.loss_end is not None and pt.loss_end <= TRAINED_FRACTION
        pt.predicted_trainable = pt.xi is None or spec.depth <= TRAINABLE_DEPTHS * pt.xi
        agree.append(pt.trained == pt.predicted_trainable)
    return TrainingInfo(
        steps=spec.train_steps, lr=spec.lr, train_batch=TRAIN_BATCH, test_batch=TEST_BATCH,
        task=(f"regression onto a random linear teacher t = z·v/‖v‖ of inputs on a random "
              f"{min(TASK_DIMS, spec.width)}-dimensional subspace, read out by o = h_L·r; "
              f"{TRAIN_BATCH} training and {TEST_BATCH} held-out inputs, full-batch gradient descent"),
        agreement=sum(agree) / len(agree) if agree else None,
    )


def _settings(spec: PhaseSpec, device: torch.device) -> dict[str, object]:
    return {
        "activation": spec.activation, "depth": spec.depth, "width": spec.width,
        "batch": spec.batch, "seed": spec.seed, "device": str(device), "dtype": spec.dtype,
        "init": "meanfield", "loss": "mse", "target": TARGET, "points": spec.points,
        "pair_correlation": PAIR_CORRELATION, "train_steps": spec.train_steps,
        "lr": spec.lr if spec.train_steps else None,
        "trainable_depths": TRAINABLE_DEPTHS, "trained_fraction": TRAINED_FRACTION,
    }


__all__ = ["TrainingInfo", "run_phase"]
