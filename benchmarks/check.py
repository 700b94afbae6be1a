"""Check: percgrad's finite differences against torch.autograd.gradcheck on one float64 net."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from rich.table import Table
from torch import Tensor

from benchmarks.common import Bench, Config, Log, Stats, fmt_s, mark, time_adaptive
from percgrad.gradcheck.network import fast_gradients, full_gradients
from percgrad.network.net import Net, build_net
from percgrad.network.passes import analytic_backward, forward
from percgrad.spec.run import Spec

FULL_NETS = ((32, 32, 8), (128, 128, 128, 128, 128))
"""1,280 and 65,536 weights, no bias."""
QUICK_NETS = ((8, 8, 4), (16, 16, 16, 16))
BATCH = 4
ACTIVATION = "tanh"
INIT = "xavier"
LOSS = "mse"
RATIO_LIMIT = 1.0
"""percgrad / gradcheck."""
REPEATS = 5
"""At most this many timed runs per measurement (after a warm-up)."""
LONG_S = 10.0
"""A measurement whose first run takes this long is run once only."""
TORCH_OPS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}


@dataclass
class CheckRow:
    """One pairing on one net: percgrad's check and gradcheck's, timed, and both verdicts."""

    params: int
    sizes: tuple[int, ...]
    percgrad_method: str
    gradcheck_fast_mode: bool
    percgrad: Stats
    gradcheck: Stats
    ratio: float
    ok: bool
    percgrad_max_rel_error: float
    """Largest relative error of analytic against percgrad's finite differences."""
    gradcheck_passed: bool


@dataclass
class CheckResult:
    """The check section: the network used and one row per net and mode."""

    setup: str
    rows: list[CheckRow]


def make_net(sizes: tuple[int, ...]) -> Net:
    """A float64 CPU net of these widths, no bias."""
    spec = Spec("multi", sizes, activation=ACTIVATION, init=INIT, loss=LOSS, batch=BATCH,
                dtype="float64", device="cpu", check="off")
    return build_net(spec, "cpu", torch.float64)


def loss_of_weights(net: Net) -> Callable[..., Tensor]:
    """E(W_1, …, W_L) in plain torch ops, mirroring the net (for gradcheck)."""
    phi = TORCH_OPS[ACTIVATION]
    x, t = net.x, net.t

    def fn(*weights: Tensor) -> Tensor:
        h = x
        for w in weights:
            h = phi(h @ w.t())
        return F.mse_loss(h, t)

    return fn


def _percgrad_full(net: Net) -> float:
    """forward, analytic backward, every finite difference; the largest relative error."""
    grads = analytic_backward(net, forward(net))
    num = full_gradients(net)
    return max(
        float((g - n).abs().max() / max(float(g.abs().max()), float(n.abs().max()), 1e-300))
        for g, n in zip(grads.weights, num.weights)
    )


def _percgrad_fast(net: Net) -> float:
    """forward, analytic backward, random-direction differences; the largest relative error."""
    grads = analytic_backward(net, forward(net))
    num = fast_gradients(net, [grads], seed=0)
    n, a = num.projections[:, 0], num.projections[:, 1]
    return float(((n - a).abs() / torch.maximum(n.abs(), a.abs()).clamp_min(1e-300)).max())


def _gradcheck(net: Net, fast_mode: bool) -> bool:
    fn = loss_of_weights(net)
    leaves = tuple(w.detach().clone().requires_grad_(True) for w in net.weights)
    return bool(torch.autograd.gradcheck(fn, leaves, fast_mode=fast_mode, raise_exception=False))


def measure_pair(net: Net, sizes: tuple[int, ...], fast: bool, repeats: int) -> CheckRow:
    """percgrad full vs gradcheck(fast_mode=False), or percgrad fast vs fast_mode=True."""
    ours = _percgrad_fast if fast else _percgrad_full
    errors: list[float] = []
    passes: list[bool] = []
    t_ours = time_adaptive(Bench(lambda _: errors.append(ours(net))), repeats, LONG_S)
    t_theirs = time_adaptive(Bench(lambda _: passes.append(_gradcheck(net, fast))), repeats, LONG_S)
    ratio = t_ours.median_s / t_theirs.median_s
    params = sum(w.numel() for w in net.weights)
    method = "fast" if fast else "full"
    return CheckRow(params, sizes, method, fast, t_ours, t_theirs, ratio, ratio <= RATIO_LIMIT,
                    max(errors), all(passes))


def warm_up() -> None:
    """Pay one-time costs (lazy imports, first calls) of both checks on a tiny net, untimed."""
    net = make_net((2, 2, 1))
    _percgrad_full(net)
    _percgrad_fast(net)
    _gradcheck(net, False)
    _gradcheck(net, True)


def measure(cfg: Config, log: Log) -> CheckResult:
    """Both pairings on both nets; slow runs (≥ LONG_S) are done once."""
    warm_up()
    rows = []
    for sizes in QUICK_NETS if cfg.quick else FULL_NETS:
        net = make_net(sizes)
        for fast in (False, True):
            log(f"check {sizes} {'fast' if fast else 'full'}")
            rows.append(measure_pair(net, sizes, fast, min(cfg.repeats, REPEATS)))
    setup = f"{ACTIVATION}, {INIT} init, {LOSS} loss, float64, batch {BATCH}, no bias"
    return CheckResult(setup, rows)


def render(result: CheckResult) -> list[object]:
    """One table: a row per net and mode."""
    table = Table(
        title=f"Gradient check vs torch.autograd.gradcheck ({result.setup})",
        caption="percgrad = forward + analytic_backward + full_gradients or fast_gradients + "
        "comparison; "
        "gradcheck(E(W_1..W_L), (W_1..W_L)) with default tolerances. Median of the runs shown "
        "(one run where the first took ≥ 10 s).",
    )
    for col in ("params", "sizes", "percgrad", "gradcheck", "runs", f"ratio ≤ {RATIO_LIMIT}",
                "met", "percgrad max rel err", "gradcheck passed"):
        table.add_column(col, justify="left" if col in ("sizes", "percgrad", "gradcheck") else "right")
    for r in result.rows:
        table.add_row(
            f"{r.params:,}", "×".join(map(str, r.sizes)),
            f"{r.percgrad_method}: {fmt_s(r.percgrad.median_s)}",
            f"fast_mode={r.gradcheck_fast_mode}: {fmt_s(r.gradcheck.median_s)}",
            f"{r.percgrad.n}/{r.gradcheck.n}", f"{r.ratio:.3f}", mark(r.ok),
            f"{r.percgrad_max_rel_error:.1e}", "yes" if r.gradcheck_passed else "no",
        )
    return [table]
