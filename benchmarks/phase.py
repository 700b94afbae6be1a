"""Phase: a grid point's cost in ``percgrad phase``'s batched sweep (one stack, torch.bmm over
the grid) against one in-process ``vanish`` run of the same shape."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from rich.table import Table

from benchmarks.common import Config, Log, Stats, fmt_s, mark
from percgrad.api import run_chain
from percgrad.engines.phase import run_phase
from percgrad.spec.build import chain_spec
from percgrad.spec.phase import phase_spec

FULL = {"depth": 100, "width": 128, "batch": 8, "sigma_w2": "0.5:4:0.25", "sigma_b2": "0:0.3:0.05"}
"""The default sweep: 15 × 7 = 105 chains."""
QUICK = {"depth": 10, "width": 16, "batch": 4, "sigma_w2": "1,2,3", "sigma_b2": "0,0.1"}
ACTIVATION = "tanh"
VANISH_INIT = "xavier"
"""The vanish run's init, with biases: the same parameters as a grid point (the cost does not
depend on the σ's)."""
RATIO_LIMIT = 0.5
"""A grid point's share of the sweep / one vanish run (default check)."""
SWEEPS, VANISH_RUNS = 3, 5
THREADS = 1
"""torch threads while timing: on a shared two-core machine two threads spin against other work
(a vanish run's bare passes took 50 times longer with two than with one); one thread is the
same condition for the sweep and the runs it is compared with."""


@dataclass
class PhaseRow:
    """One device: the sweep, per point, against vanish runs of the same shape."""

    device: str
    points: int
    sweep: Stats
    per_point_s: float
    parts_per_point_s: dict[str, float]
    """draw, measure, check, theory: each stage's median over the sweeps, per point."""
    vanish: Stats
    """api.run_chain of one chain of the same shape, default check (auto: fast here)."""
    vanish_check_off: Stats
    passes: Stats
    """The bare kernel of one chain: build_net, forward, the analytic backward."""
    ratio: float
    ratio_check_off: float
    ratio_passes: float
    ok: bool


@dataclass
class PhaseResult:
    """The phase section: the shape and a row per device."""

    setup: str
    rows: list[PhaseRow]
    skipped: dict[str, str] = field(default_factory=dict)


def _sweep(shape: dict[str, object], device: str) -> tuple[float, dict[str, float], int]:
    spec = phase_spec(activation=ACTIVATION, device=device, **shape)  # type: ignore[arg-type]
    start = time.perf_counter()
    report = run_phase(spec)
    return time.perf_counter() - start, report.timing, spec.points


def _vanish(shape: dict[str, object], device: str, check: str) -> float:
    spec = chain_spec(depth=shape["depth"], width=shape["width"], batch=shape["batch"],
                      activation=ACTIVATION, init=VANISH_INIT, bias=True, device=device,
                      check=check)
    start = time.perf_counter()
    run_chain(spec, None)
    return time.perf_counter() - start


def _passes(shape: dict[str, object], device: str) -> float:
    from percgrad.network.net import build_net
    from percgrad.network.passes import analytic_backward, forward

    spec = chain_spec(depth=shape["depth"], width=shape["width"], batch=shape["batch"],
                      activation=ACTIVATION, init=VANISH_INIT, bias=True, device=device, check="off")
    start = time.perf_counter()
    net = build_net(spec, device)
    analytic_backward(net, forward(net))
    return time.perf_counter() - start


def measure(cfg: Config, log: Log) -> PhaseResult:
    """Time the sweep and the vanish runs on each device asked for."""
    import torch

    shape = QUICK if cfg.quick else FULL
    rows: list[PhaseRow] = []
    skipped: dict[str, str] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        _measure_devices(cfg, log, shape, rows, skipped)
    finally:
        torch.set_num_threads(threads)
    setup = (f"{ACTIVATION}, depth {shape['depth']}, width {shape['width']}, batch {shape['batch']}, "
             f"float32, {THREADS} torch thread; grid --sigma-w2 {shape['sigma_w2']} --sigma-b2 "
             f"{shape['sigma_b2']}; vanish --init {VANISH_INIT} --bias")
    return PhaseResult(setup, rows, skipped)


def _measure_devices(cfg: Config, log: Log, shape: dict[str, object], rows: list[PhaseRow],
                     skipped: dict[str, str]) -> None:
    import torch

    for device in cfg.devices:
        if device == "cuda" and not torch.cuda.is_available():
            skipped[device] = "no CUDA device visible to PyTorch"
            continue
        log(f"phase: sweep of {shape['sigma_w2']} × {shape['sigma_b2']} on {device}")
        if cfg.warmup:
            _sweep(shape, device)
            _vanish(shape, device, "auto")
        sweeps = [_sweep(shape, device) for _ in range(1 if cfg.quick else SWEEPS)]
        points = sweeps[0][2]
        log(f"phase: vanish runs of the same shape on {device}")
        vanish = [_vanish(shape, device, "auto") for _ in range(1 if cfg.quick else VANISH_RUNS)]
        off = [_vanish(shape, device, "off") for _ in range(1 if cfg.quick else VANISH_RUNS)]
        bare = [_passes(shape, device) for _ in range(1 if cfg.quick else VANISH_RUNS)]
        sweep = Stats.of([s[0] for s in sweeps])
        parts = {k.removesuffix("_s"): statistics.median(s[1][k] for s in sweeps) / points
                 for k in ("draw_s", "measure_s", "check_s", "theory_s")}
        per_point = sweep.median_s / points
        v, v_off, v_bare = Stats.of(vanish), Stats.of(off), Stats.of(bare)
        ratio = per_point / v.median_s
        rows.append(PhaseRow(device, points, sweep, per_point, parts, v, v_off, v_bare, ratio,
                             per_point / v_off.median_s, per_point / v_bare.median_s,
                             ratio <= RATIO_LIMIT))


def render(result: PhaseResult) -> list[object]:
    """One table: per device, the sweep, its cost per point, vanish's, the ratio."""
    table = Table(title=f"Phase sweep against vanish ({result.setup})")
    for col in ("device", "points", "sweep (median)", "per point", "of which draw · measure · "
                "check · theory", "vanish run", "ratio", "--check off", "ratio", "passes only",
                "ratio", "met"):
        table.add_column(col, justify="left" if col == "device" else "right")
    for r in result.rows:
        parts = " · ".join(fmt_s(v) for v in r.parts_per_point_s.values())
        table.add_row(r.device, str(r.points), fmt_s(r.sweep.median_s), fmt_s(r.per_point_s), parts,
                      fmt_s(r.vanish.median_s), f"{r.ratio:.3f}", fmt_s(r.vanish_check_off.median_s),
                      f"{r.ratio_check_off:.3f}", fmt_s(r.passes.median_s), f"{r.ratio_passes:.2f}",
                      mark(r.ok))
    table.caption = (f"target: a grid point's share of the sweep ≤ {RATIO_LIMIT} × one vanish run "
                     "(in process: spec, net, passes, check, theory, advice, report; no rendering); "
                     "passes only: build_net, forward and the analytic backward of one chain, no "
                     "theory (untargeted)"
                     + "".join(f"; {d} skipped: {why}" for d, why in result.skipped.items()))
    return [table]
