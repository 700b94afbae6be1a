"""``phase``: the order-to-chaos phase diagram. Every point of a σ_w² × σ_b² grid is a deep
chain with meanfield init, and all of them run as one stack of networks (network.stack:
``torch.bmm`` over the grid dimension, on CUDA when present): the per-layer factor of ‖δ‖²
over the middle layers and the correlation of two inputs are measured beside the mean-field
predictions (q*, χ₁, ξ, c*, the critical line χ₁ = 1), and optionally every network is trained
on a fixed task.

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

import torch
from torch import Tensor

from percgrad.errors import PercgradError
from percgrad.network.functions import Activation, activation
from percgrad.network.stack import (
    TARGET,
    Stack,
    autograd_gap,
    draw,
    finite_or_none,
    held_out,
    measure,
    train_step,
)
from percgrad.reports.phase import CriticalPoint, PhaseCheck, PhasePoint, PhaseReport, TrainingInfo
from percgrad.runtime.device import (
    DTYPES,
    available_bytes,
    check_dtype,
    device_info,
    resolve_device,
    synchronize,
)
from percgrad.runtime.memory import HEADROOM, human
from percgrad.runtime.progress import Progress
from percgrad.spec.phase import PAIR_CORRELATION, TRAINABLE_DEPTHS, TRAINED_FRACTION, PhaseSpec
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

CHECKED_POINTS = 3
TRAIN_BATCH, TEST_BATCH = 64, 256
TASK_DIMS = 8


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
    """Every point's network, drawn as ``build_net`` draws vanish's from the same seed, so that
    point (σ_w², σ_b²) is vanish's network of those σ's (see network.stack.draw)."""
    return draw(grid_points(spec), spec.width, spec.depth, spec.batch, spec.seed, PAIR_CORRELATION,
                device, dtype)


def check_points(stack: Stack, act: Activation, spec: PhaseSpec) -> PhaseCheck:
    """The batched hand-derived δ's against autograd's on a few networks (the grid's first,
    middle and last): max over layers of max|δ − δ_autograd| / max|δ_autograd|."""
    p = stack.points
    idx = sorted({0, p // 2, p - 1})[:CHECKED_POINTS]
    tol = 1e-6 if spec.dtype == "float64" else 1e-3
    worst = autograd_gap(stack, act, idx)
    passed = None if worst is None else worst <= tol
    return PhaseCheck(idx, worst, tol, passed)


def _geometric(values: list[float]) -> float | None:
    """The geometric mean of ``values``; None unless all are positive and finite."""
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
    got = measure(stack, act, spec.window)
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
    before = held_out(weights, biases, act, x_test, t_test, r) / baseline
    rows = x_train.expand(p, *x_train.shape).contiguous()
    for step in range(spec.train_steps):
        with torch.no_grad():
            train_step(weights, biases, rows, t_train, r, act, spec.lr)
        if progress is not None:
            progress(done + step + 1, total)
    after = held_out(weights, biases, act, x_test, t_test, r) / baseline
    agree = []
    for pt, b, a in zip(points, before.tolist(), after.tolist()):
        pt.loss_start = finite_or_none(b)
        pt.loss_end = finite_or_none(a)
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
    """The report's settings: every option's resolved value and the sweep's constants."""
    return {
        "activation": spec.activation, "depth": spec.depth, "width": spec.width,
        "batch": spec.batch, "seed": spec.seed, "device": str(device), "dtype": spec.dtype,
        "init": "meanfield", "loss": "mse", "target": TARGET, "points": spec.points,
        "pair_correlation": PAIR_CORRELATION, "train_steps": spec.train_steps,
        "lr": spec.lr if spec.train_steps else None,
        "trainable_depths": TRAINABLE_DEPTHS, "trained_fraction": TRAINED_FRACTION,
    }


__all__ = ["TrainingInfo", "run_phase"]
