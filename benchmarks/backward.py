"""Backward: the hand-derived backward pass against autograd and against plain matmuls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from rich.table import Table
from rich.text import Text

from benchmarks.common import Bench, Config, Log, Stats, Sync, fmt_s, mark, no_sync, time_interleaved
from percgrad.network.net import Net, build_net
from percgrad.network.passes import (
    analytic_backward,
    autograd_backward,
    forward,
    graph_backward,
    graph_forward,
)
from percgrad.spec.run import Spec

FULL_SHAPES = ((10, 1, 1), (1000, 1, 1), (1000, 32, 1), (100, 512, 64), (50, 1024, 256))
"""depth × width × batch."""
QUICK_SHAPES = ((10, 1, 1), (20, 16, 4), (5, 64, 8))
ACTIVATION = "tanh"
INIT = "xavier"
LOSS = "mse"
DTYPE = "float32"
RATIO_LIMIT = 1.0
"""analytic / autograd backward-only, on every shape."""
FRACTION_MIN = 0.8
"""analytic GFLOP/s as a fraction of torch.mm's, on the widest shapes."""
WIDEST = 2
"""How many of the widest shapes the throughput target applies to."""


@dataclass
class BackwardRow:
    """Timings of one shape on one device, and the figures derived from them."""

    device: str
    depth: int
    width: int
    batch: int
    flops: int
    """4·batch·width²·depth: two (batch, width)×(width, width) matmuls per layer."""
    forward: Stats
    analytic: Stats
    autograd_call: Stats
    """autograd_backward() itself: its forward with graph recording, then e.backward()."""
    autograd_graph_forward: Stats
    autograd_backward_only: Stats
    """e.backward() on a graph built beforehand, untimed (graph_backward)."""
    mm_reference: Stats
    """Per layer torch.mm(x, Wᵀ) and torch.mm(x, W), x of shape (batch, width)."""
    mm_backward_shapes: Stats
    """Per layer torch.mm(δᵀ, h) and torch.mm(δ, W): the two products the backward needs."""
    mirror_matches: bool
    """graph_backward's ∂E/∂W equal autograd_backward's."""
    ratio: float
    """analytic / autograd backward-only."""
    ratio_pipeline: float
    """(forward + analytic) / autograd_backward()."""
    analytic_gflops: float
    mm_gflops: float
    mm_backward_gflops: float
    fraction: float
    """analytic GFLOP/s / mm_reference GFLOP/s."""
    ratio_ok: bool
    fraction_ok: bool | None


@dataclass
class BackwardResult:
    """The backward section: the network used, a row per shape and device, skipped devices."""

    setup: str
    rows: list[BackwardRow]
    skipped: dict[str, str]


def make_net(depth: int, width: int, batch: int, device: str) -> Net:
    """depth layers of width × width, float32, built as the vanish command would build them."""
    spec = Spec("vanish", (width,) * (depth + 1), batch=batch, device=device, dtype=DTYPE,
                init=INIT, activation=ACTIVATION, loss=LOSS)
    return build_net(spec, device, getattr(torch, DTYPE))


def _matmul_loops(net: Net) -> tuple[Callable[[object], object], Callable[[object], object]]:
    """The plain-matmul references: the spec's (x·Wᵀ, x·W) and the backward's (δᵀ·h, δ·W)."""
    gen_device = net.x.device
    batch, width = net.x.shape[0], net.weights[0].shape[1]
    x = torch.randn(batch, width, device=gen_device, dtype=net.x.dtype)
    d = torch.randn(batch, width, device=gen_device, dtype=net.x.dtype)

    def reference(_: object) -> None:
        for w in net.weights:
            torch.mm(x, w.t())
            torch.mm(x, w)

    def backward_shapes(_: object) -> None:
        for w in net.weights:
            torch.mm(d.t(), x)
            torch.mm(d, w)

    return reference, backward_shapes


def _benches(net: Net) -> dict[str, Bench]:
    """Each backward gets its own forward as untimed setup, so both start from warm caches."""
    reference, backward_shapes = _matmul_loops(net)
    return {
        "forward": Bench(lambda _: forward(net)),
        "analytic": Bench(lambda f: analytic_backward(net, f), lambda: forward(net)),
        "autograd_call": Bench(lambda _: autograd_backward(net)),
        "autograd_graph_forward": Bench(lambda _: graph_forward(net)),
        "autograd_backward_only": Bench(graph_backward, lambda: graph_forward(net)),
        "mm_reference": Bench(reference),
        "mm_backward_shapes": Bench(backward_shapes),
    }


def _mirror_matches(net: Net) -> bool:
    mine = graph_backward(graph_forward(net)).weights
    theirs = autograd_backward(net)[0].weights
    return all(torch.equal(a, b) for a, b in zip(mine, theirs))


def _sync_for(device: str) -> Sync:
    if device.startswith("cuda"):
        return lambda: torch.cuda.synchronize(device)
    return no_sync


def measure_shape(depth: int, width: int, batch: int, device: str, cfg: Config) -> BackwardRow:
    """All timings of one shape, sampled in turn; throughput from the medians."""
    net = make_net(depth, width, batch, device)
    s = time_interleaved(_benches(net), cfg, _sync_for(device))
    flops = 4 * batch * width * width * depth
    an, mm = s["analytic"].median_s, s["mm_reference"].median_s
    ratio = an / s["autograd_backward_only"].median_s
    return BackwardRow(
        device, depth, width, batch, flops,
        s["forward"], s["analytic"], s["autograd_call"], s["autograd_graph_forward"],
        s["autograd_backward_only"], s["mm_reference"], s["mm_backward_shapes"],
        _mirror_matches(net),
        ratio=ratio,
        ratio_pipeline=(s["forward"].median_s + an) / s["autograd_call"].median_s,
        analytic_gflops=flops / an / 1e9,
        mm_gflops=flops / mm / 1e9,
        mm_backward_gflops=flops / s["mm_backward_shapes"].median_s / 1e9,
        fraction=mm / an,
        ratio_ok=ratio <= RATIO_LIMIT,
        fraction_ok=None,
    )


def _device_skip(device: str) -> str | None:
    if device.startswith("cuda") and not torch.cuda.is_available():
        return f"{device}: CUDA is not available to PyTorch {torch.__version__}; skipped."
    return None


def measure(cfg: Config, log: Log) -> BackwardResult:
    """Every shape on every device asked for; the throughput target on the widest shapes."""
    shapes = QUICK_SHAPES if cfg.quick else FULL_SHAPES
    widest = sorted(shapes, key=lambda s: (s[1], s[2]))[-WIDEST:]
    rows: list[BackwardRow] = []
    skipped: dict[str, str] = {}
    for device in cfg.devices:
        reason = _device_skip(device)
        if reason is not None:
            skipped[device] = reason
            log(reason)
            continue
        for depth, width, batch in shapes:
            log(f"backward {device} {depth}×{width}×{batch}")
            row = measure_shape(depth, width, batch, device, cfg)
            if (depth, width, batch) in widest:
                row.fraction_ok = row.fraction >= FRACTION_MIN
            rows.append(row)
    setup = (f"{ACTIVATION}, {INIT} init, {LOSS} loss, {DTYPE}, no bias, "
             f"{torch.get_num_threads()} CPU thread(s)")
    return BackwardResult(setup, rows, skipped)


def _table(device: str, rows: list[BackwardRow], setup: str) -> Table:
    n = min(r.analytic.n for r in rows)
    table = Table(
        title=f"Backward on {device} ({setup}; median of ≥ {n})",
        caption="autograd() = autograd_backward(): forward with graph + e.backward(); bwd-only = "
        "e.backward() on a graph built untimed. GFLOP/s from 4·batch·width²·depth; mm = "
        "torch.mm (batch,width)×(width,width), twice per layer.",
    )
    for col in ("depth×width×batch", "forward", "analytic", "autograd()", "bwd-only",
                f"an/bwd-only ≤ {RATIO_LIMIT}", "(fwd+an)/autograd()", "analytic GFLOP/s",
                "mm GFLOP/s", "δᵀh+δW GFLOP/s", f"an/mm ≥ {FRACTION_MIN:.0%}"):
        table.add_column(col, justify="left" if col.startswith("depth") else "right")
    for r in rows:
        table.add_row(
            f"{r.depth}×{r.width}×{r.batch}", fmt_s(r.forward.median_s), fmt_s(r.analytic.median_s),
            fmt_s(r.autograd_call.median_s), fmt_s(r.autograd_backward_only.median_s),
            f"{r.ratio:.2f} {mark(r.ratio_ok)}", f"{r.ratio_pipeline:.2f}",
            f"{r.analytic_gflops:.3g}", f"{r.mm_gflops:.3g}", f"{r.mm_backward_gflops:.3g}",
            f"{r.fraction:.0%} {mark(r.fraction_ok)}",
        )
    return table


def render(result: BackwardResult) -> list[object]:
    """A table per device measured, and a line per device skipped."""
    parts: list[object] = []
    for device in dict.fromkeys(r.device for r in result.rows):
        parts.append(_table(device, [r for r in result.rows if r.device == device], result.setup))
    parts.extend(Text(reason, style="yellow") for reason in result.skipped.values())
    return parts
