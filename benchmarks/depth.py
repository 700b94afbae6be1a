"""Depth: ``percgrad vanish`` is linear in the depth of the chain (no per-layer pass over all
layers): a chain twice as deep takes at most twice as long."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rich.table import Table

from benchmarks.common import Config, Log, fmt_s, mark, percgrad_launcher, run_child

FULL = (10_000, 20_000)
"""The two depths compared (width 1, --check off)."""
QUICK = (500, 1_000)
RATIO_LIMIT = 2.0
"""wall(2·depth) / wall(depth), start-up included (which only lowers the ratio)."""
TIMEOUT_S = 900.0


@dataclass
class DepthResult:
    """Wall times of the two chains and their ratio."""

    depths: tuple[int, int]
    command: list[str]
    wall_s: tuple[float, float]
    peak_rss_bytes: tuple[int, int]
    ratio: float
    ok: bool


def _vanish(depth: int) -> list[str]:
    launch, _ = percgrad_launcher()
    return [sys.executable, *launch, "vanish", "--depth", str(depth), "--width", "1",
            "--check", "off", "--json"]


def measure(cfg: Config, log: Log) -> DepthResult:
    """Run the chain at both depths, one after the other, in fresh processes."""
    shallow, deep = QUICK if cfg.quick else FULL
    runs = []
    for depth in (shallow, deep):
        log(f"depth: percgrad vanish --depth {depth} --width 1 --check off")
        run = run_child(_vanish(depth), TIMEOUT_S)
        if run.returncode != 0:
            raise RuntimeError(f"vanish --depth {depth} exited {run.returncode}: {run.stderr[-300:]}")
        runs.append(run)
    ratio = runs[1].wall_s / runs[0].wall_s
    return DepthResult((shallow, deep), _vanish(deep), (runs[0].wall_s, runs[1].wall_s),
                       (runs[0].peak_rss_bytes, runs[1].peak_rss_bytes), ratio,
                       ratio <= RATIO_LIMIT)


def render(result: DepthResult) -> list[object]:
    """One table: both wall times and their ratio against the target."""
    table = Table(title="Depth: vanish --width 1 --check off, twice as deep")
    for col in ("depth", "wall", "met"):
        table.add_column(col, justify="right")
    for depth, wall in zip(result.depths, result.wall_s):
        table.add_row(f"{depth:,}", fmt_s(wall), mark(None))
    table.add_row(f"ratio (target ≤ {RATIO_LIMIT:g})", f"{result.ratio:.2f}", mark(result.ok))
    return [table]
