"""Memory: peak RSS of a deep vanish run against the bytes its tensors need."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rich.table import Table

from benchmarks.common import MIB, ChildRun, Config, Log, fmt_mib, fmt_s, mark, percgrad_launcher, run_child

FULL = (500, 512)
"""depth, width."""
QUICK = (20, 64)
BATCH = 1
"""vanish's default batch (that of Spec)."""
FACTOR = 1.5
OVERHEAD_BYTES = 300 * MIB
"""Allowance for the interpreter and torch itself."""
TIMEOUT_S = 1800.0
FLOAT32 = 4
ESTIMATE_TOLERANCE = 0.05
"""The size guard's estimate against the measured peak: within this fraction."""
FALLBACK = (
    "from percgrad.engines.perceptron import run\n"
    "from percgrad.spec.run import Spec\n"
    "run(Spec('vanish', ({width},) * {layers}, check='off', device='cpu', keep_tensors=False))"
)


@dataclass
class MemoryResult:
    """Peak RSS of the run, of a bare import torch, and the tensor bytes it is held against."""

    depth: int
    width: int
    batch: int
    used: str
    """'percgrad vanish' or 'experiment.run (fallback)'."""
    fallback_reason: str | None
    command: list[str]
    peak_rss_bytes: int
    wall_s: float
    torch_baseline_rss_bytes: int
    weights_bytes: int
    activations_bytes: int
    gradients_bytes: int
    tensors_bytes: int
    limit_bytes: int
    ok: bool
    estimate_bytes: int = 0
    """The size guard's estimate of the run's peak RSS (runtime.memory: Estimate.peak)."""
    estimate_ok: bool = True
    """The estimate within ESTIMATE_TOLERANCE of the measured peak."""


def tensor_bytes(depth: int, width: int, batch: int) -> tuple[int, int, int]:
    """Float32 bytes of the weights, the activations (pre and post), two sets of gradients."""
    weights = depth * width * width * FLOAT32
    activations = 2 * depth * batch * width * FLOAT32
    return weights, activations, 2 * weights


def _vanish(depth: int, width: int) -> list[str]:
    launch, _ = percgrad_launcher()
    return [sys.executable, *launch, "vanish", "--depth", str(depth), "--width", str(width),
            "--check", "off", "--json"]


def _fallback(depth: int, width: int) -> list[str]:
    return [sys.executable, "-c", FALLBACK.format(width=width, layers=depth + 1)]


def _reason(run: ChildRun) -> str:
    lines = [line.strip(" │╭╮╰╯─") for line in run.stderr.splitlines()]
    text = " ".join(line for line in lines if line)
    return f"exit {run.returncode}: {text[-300:]}"


def measure(cfg: Config, log: Log) -> MemoryResult:
    """Run the vanish command (or, if it fails, the engine directly) and a bare import torch."""
    depth, width = QUICK if cfg.quick else FULL
    log(f"memory: percgrad vanish --depth {depth} --width {width}")
    run = run_child(_vanish(depth, width), TIMEOUT_S)
    used, reason = "percgrad vanish", None
    if run.returncode != 0:
        reason = _reason(run)
        log(f"vanish failed ({reason}); running experiment.run directly")
        run = run_child(_fallback(depth, width), TIMEOUT_S)
        used = "experiment.run (fallback)"
        if run.returncode != 0:
            raise RuntimeError(f"the fallback failed too: {_reason(run)}")
    baseline = run_child([sys.executable, "-c", "import torch"])
    weights, acts, grads = tensor_bytes(depth, width, BATCH)
    tensors = weights + acts + grads
    limit = int(FACTOR * tensors + OVERHEAD_BYTES)
    from percgrad.runtime.memory import estimate
    from percgrad.spec.build import chain_spec

    guessed = estimate(chain_spec(depth=depth, width=width, check="off")).peak
    close = abs(guessed / run.peak_rss_bytes - 1) <= ESTIMATE_TOLERANCE
    return MemoryResult(depth, width, BATCH, used, reason, run.command, run.peak_rss_bytes,
                        run.wall_s, baseline.peak_rss_bytes, weights, acts, grads, tensors,
                        limit, run.peak_rss_bytes <= limit, guessed, close or cfg.quick)


def render(result: MemoryResult) -> list[object]:
    """One table: the run's peak against its limit, with the pieces the limit is made of."""
    r = result
    table = Table(
        title=f"Memory: vanish --depth {r.depth} --width {r.width} --check off "
        f"(batch {r.batch}, float32; ran: {r.used}, {fmt_s(r.wall_s)})",
        caption=None if r.fallback_reason is None else f"vanish command: {r.fallback_reason}",
    )
    for col in ("what", "bytes", "met"):
        table.add_column(col, justify="left" if col == "what" else "right")
    over = r.peak_rss_bytes - r.torch_baseline_rss_bytes
    rows = [
        ("weights  depth·width²·4", r.weights_bytes, None),
        ("activations  2·depth·batch·width·4", r.activations_bytes, None),
        ("gradients  2·depth·width²·4", r.gradients_bytes, None),
        ("tensors in all", r.tensors_bytes, None),
        ("peak RSS of python -c 'import torch'", r.torch_baseline_rss_bytes, None),
        (f"limit  {FACTOR}·tensors + {OVERHEAD_BYTES // MIB} MiB", r.limit_bytes, None),
        (f"peak RSS of the run ({r.peak_rss_bytes / r.limit_bytes:.0%} of the limit)",
         r.peak_rss_bytes, r.ok),
        (f"  of which above import torch ({over / r.tensors_bytes:.2f} × tensors)", over, None),
        (f"the size guard's estimate ({r.estimate_bytes / r.peak_rss_bytes - 1:+.1%} of the "
         f"peak; target ±{ESTIMATE_TOLERANCE:.0%})", r.estimate_bytes, r.estimate_ok),
    ]
    for what, n_bytes, ok in rows:
        table.add_row(what, fmt_mib(n_bytes), mark(ok))
    return [table]
